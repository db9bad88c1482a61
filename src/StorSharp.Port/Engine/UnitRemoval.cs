namespace StorSharp.Port;

/// <summary>
/// Takes a logical unit away, the two ways Storport does (storport-model.md §2, UnitControl):
/// an <b>orderly</b> removal (PnP remove after query-remove) refuses new requests, lets every
/// request already accepted finish, then sends UnitControl(Remove); a <b>surprise</b> removal (the
/// device vanished) completes every queued and outstanding request at once with NO_DEVICE, sends
/// UnitControl(SurpriseRemoval) and then UnitControl(Remove). Either way event 1031 records it.
/// </summary>
/// <remarks>
/// The enumerator tells the two apart by asking the vanished LU one more INQUIRY: a miniport that
/// still serves the LU (it only dropped it from REPORT LUNS) wants an orderly removal; one that
/// answers "not present" has lost it. In a surprise removal the miniport may still hold requests the
/// port has completed: as after a reset, their late completions are dropped and the SRB is not
/// reused until the miniport lets go of it.
/// </remarks>
internal static class UnitRemoval
{
    /// <summary>Removes <paramref name="lu"/>; returns once no request of it is left anywhere in the port.</summary>
    public static async Task RemoveAsync(Adapter adapter, LogicalUnit lu, bool surprise)
    {
        var unitControl = adapter.Miniport as IMiniportUnitControl;
        var none = new HashSet<UnitControlType>();
        int drained = 0, failed = 0;
        if (surprise)
        {
            lu.MarkRemoved();
            var now = adapter.Time.GetTimestamp();
            var requests = new List<Srb>();
            lu.TakeAllPending(requests);
            lu.ClaimAllOutstanding(requests, now);
            foreach (var srb in requests) adapter.ForceComplete(srb, SrbStatus.NoDevice);
            failed = requests.Count;
            // Requests a fault filter was stalling are claimed above; clearing the filter lets go of them.
            if (lu.Faults is not null) lu.SetFaults(null);
            Call(adapter, unitControl, UnitControlType.SurpriseRemoval, lu.Address, none);
        }
        else
        {
            int before = lu.PendingCount + lu.OutstandingCount;
            var quiet = lu.BeginRemoval();
            adapter.Dispatch(lu);
            await quiet.ConfigureAwait(false);
            drained = before;
            lu.MarkRemoved();
            if (lu.Faults is not null) lu.SetFaults(null);
        }
        Call(adapter, unitControl, UnitControlType.Remove, lu.Address, none);
        adapter.Log(StorageEventIds.LunRemoved, EventLevel.Information,
            surprise
                ? $"Logical unit {lu.Address} ({lu.Identity?.ProductId}) was surprise-removed from {adapter.DeviceName}; {failed} request(s) failed with NO_DEVICE."
                : $"Logical unit {lu.Address} ({lu.Identity?.ProductId}) was removed from {adapter.DeviceName} after {drained} request(s) drained.",
            ("Address", lu.Address.ToString()), ("ProductId", lu.Identity?.ProductId ?? ""),
            ("Removal", surprise ? "surprise" : "orderly"), ("Drained", drained.ToString()), ("Failed", failed.ToString()));
    }

    private static void Call(Adapter adapter, IMiniportUnitControl? unitControl, UnitControlType type, ScsiAddress address, HashSet<UnitControlType> none)
    {
        if (unitControl is null) return;
        try { unitControl.UnitControl(type, address, none); }
        catch (Exception ex)
        {
            adapter.Log(StorageEventIds.ContractViolation, EventLevel.Error,
                $"The miniport {adapter.Registration.Name} threw from UnitControl({type}) for {address}: {ex.GetType().Name}: {ex.Message}",
                ("Address", address.ToString()), ("Routine", "UnitControl"));
        }
    }
}
