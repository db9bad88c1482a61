namespace StorSharp.Port;

/// <summary>The port services one adapter offers its miniport; see <see cref="IPortServices"/>.</summary>
internal sealed class PortServices(Adapter adapter) : IPortServices
{
    public string AdapterName => adapter.Name;

    public TimeProvider Time => adapter.Time;

    public void CompleteRequest(Srb srb)
    {
        ArgumentNullException.ThrowIfNull(srb);
        adapter.OnMiniportCompleted(srb);
    }

    public void CompleteAllRequests(ScsiAddress address, SrbStatus status)
    {
        var now = Time.GetTimestamp();
        var claimed = new List<Srb>();
        foreach (var lu in adapter.LogicalUnits) if (address.Matches(lu.Address)) lu.ClaimAllOutstanding(claimed, now);
        // The miniport says it is done with these: it gives up its hold on the SRBs too.
        foreach (var srb in claimed)
            if (Interlocked.Exchange(ref srb.MiniportOwned, 0) == 1) srb.DropReference();
        foreach (var srb in claimed)
        {
            srb.Status = status;
            srb.Unit?.Count(srb);
            adapter.Finish(srb);
        }
        foreach (var lu in adapter.LogicalUnits) if (address.Matches(lu.Address)) adapter.Dispatch(lu);
    }

    public void Pause(TimeSpan timeout) => adapter.PauseAdapter(timeout);

    public void Resume() => adapter.ResumeAdapter();

    public void PauseDevice(ScsiAddress address, TimeSpan timeout) =>
        adapter.GetLogicalUnit(address)?.Pause(Time.GetTimestamp() + adapter.TimeSpanToTicks(timeout));

    public void ResumeDevice(ScsiAddress address)
    {
        if (adapter.GetLogicalUnit(address) is not { } lu) return;
        lu.Resume();
        adapter.Dispatch(lu);
    }

    public void Busy(int requestsToComplete) => adapter.BusyAdapter(requestsToComplete);

    public void Ready() => adapter.ReadyAdapter();

    public void DeviceBusy(ScsiAddress address, int requestsToComplete) => adapter.GetLogicalUnit(address)?.Busy(requestsToComplete);

    public void DeviceReady(ScsiAddress address)
    {
        if (adapter.GetLogicalUnit(address) is not { } lu) return;
        lu.Ready();
        adapter.Dispatch(lu);
    }

    public bool SetDeviceQueueDepth(ScsiAddress address, int depth)
    {
        if (adapter.GetLogicalUnit(address) is not { } lu || !lu.SetQueueDepth(depth)) return false;
        adapter.Log(StorageEventIds.QueueDepthSet, EventLevel.Information, $"Queue depth of {address} on {adapter.DeviceName} set to {depth}.",
            ("Address", address.ToString()), ("QueueDepth", depth.ToString()));
        adapter.Dispatch(lu);
        return true;
    }

    public void LinkDown() => adapter.SetLinkDown();

    public void LinkUp() => adapter.SetLinkUp();

    public void BusChangeDetected(byte pathId) =>
        _ = Task.Run(async () =>
        {
            try { await BusEnumerator.ScanAsync(adapter, pathId).ConfigureAwait(false); }
            catch (Exception ex)
            {
                adapter.Log(StorageEventIds.ContractViolation, EventLevel.Error, $"Enumerating bus {pathId} of {adapter.DeviceName} failed: {ex.Message}");
            }
        });

    public void ResetDetected(byte pathId) =>
        adapter.Log(StorageEventIds.BusReset, EventLevel.Warning, $"The miniport reset bus {pathId} of {adapter.DeviceName} on its own.", ("PathId", pathId.ToString()));

    public IDisposable RequestTimer(Action callback, TimeSpan delay)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ITimer? timer = null;
        timer = Time.CreateTimer(_ =>
        {
            timer?.Dispose();
            try { callback(); }
            catch (Exception ex) { adapter.Log(StorageEventIds.ContractViolation, EventLevel.Error, $"A miniport timer callback of {adapter.DeviceName} threw: {ex.Message}"); }
        }, null, delay, Timeout.InfiniteTimeSpan);
        return timer;
    }

    public void LogError(Srb? srb, ScsiAddress address, PortErrorCode code, uint uniqueId) =>
        adapter.Log(StorageEventIds.MiniportError, EventLevel.Error,
            $"The miniport {adapter.Registration.Name} reported {code} ({(uint)code}) for {address}{(srb is null ? "" : $", {srb}")}.",
            ("Address", address.ToString()), ("ErrorCode", ((uint)code).ToString()), ("UniqueId", uniqueId.ToString()),
            ("Opcode", srb is null ? "" : $"0x{srb.OperationCode:X2}"));

    public LogicalUnit? GetLogicalUnit(ScsiAddress address) => adapter.GetLogicalUnit(address);
}
