using System.Buffers.Binary;
using System.Text;

namespace StorSharp.Port;

/// <summary>
/// Finds the LUs behind an adapter the way Storport does: for every bus and target, an INQUIRY
/// to LUN 0 (no answer: no target), REPORT LUNS, then an INQUIRY to each LUN reported. All of it
/// travels as ordinary SRBs through the miniport's StartIo.
/// </summary>
internal static class BusEnumerator
{
    private const byte InquiryOpcode = 0x12;
    private const byte ReportLunsOpcode = 0xA0;
    private const int InquiryLength = 96;
    private const int ReportLunsLength = 16 + 8 * 256;

    public static async Task<IReadOnlyList<LogicalUnit>> ScanAsync(Adapter adapter, byte? pathId)
    {
        // One enumeration at a time: a BusChangeDetected during a scan waits for it.
        await adapter.ScanLock.WaitAsync().ConfigureAwait(false);
        try { return await ScanLockedAsync(adapter, pathId).ConfigureAwait(false); }
        finally { adapter.ScanLock.Release(); }
    }

    private static async Task<IReadOnlyList<LogicalUnit>> ScanLockedAsync(Adapter adapter, byte? pathId)
    {
        var config = adapter.Configuration;
        var existing = new Dictionary<ScsiAddress, LogicalUnit>();
        foreach (var lu in adapter.LogicalUnits) existing[lu.Address] = lu;
        var found = new Dictionary<ScsiAddress, LogicalUnit>();
        foreach (var (address, lu) in existing)
            if (pathId is { } p && address.PathId != p) found[address] = lu;

        for (int bus = 0; bus < config.NumberOfBuses; bus++)
        {
            if (pathId is { } only && bus != only) continue;
            for (int target = 0; target < config.MaximumNumberOfTargets; target++)
                await ScanTargetAsync(adapter, (byte)bus, (byte)target, existing, found).ConfigureAwait(false);
        }

        var added = found.Values.Where(u => !existing.ContainsKey(u.Address)).ToList();
        var removed = existing.Values.Where(u => !found.ContainsKey(u.Address)).ToList();
        // LUs on their way out stay published (their timers keep running) until they are gone.
        var visible = new Dictionary<ScsiAddress, LogicalUnit>(found);
        foreach (var lu in removed) visible[lu.Address] = lu;
        adapter.PublishUnits(visible);
        var unitControl = adapter.Miniport as IMiniportUnitControl;
        var none = new HashSet<UnitControlType>();
        foreach (var lu in added)
        {
            unitControl?.UnitControl(UnitControlType.Start, lu.Address, none);
            adapter.Log(StorageEventIds.LunAdded, EventLevel.Information,
                $"Logical unit {lu.Address} ({lu.Identity?.ProductId}) appeared on {adapter.DeviceName}.",
                ("Address", lu.Address.ToString()), ("ProductId", lu.Identity?.ProductId ?? ""),
                ("DeviceType", lu.Identity?.PeripheralDeviceType.ToString() ?? ""));
        }
        foreach (var lu in removed)
        {
            // Still served by the miniport (it only left REPORT LUNS): orderly; not there any more: surprise.
            var (_, _, stillThere) = await InquiryAsync(adapter, adapter.CreateUnit(lu.Address)).ConfigureAwait(false);
            await UnitRemoval.RemoveAsync(adapter, lu, surprise: !stillThere).ConfigureAwait(false);
        }
        if (removed.Count > 0) adapter.PublishUnits(found);
        return adapter.LogicalUnits;
    }

    private static async Task ScanTargetAsync(Adapter adapter, byte bus, byte target,
        Dictionary<ScsiAddress, LogicalUnit> existing, Dictionary<ScsiAddress, LogicalUnit> found)
    {
        // Probes travel through a fresh, unpublished LU object: the queue of an LU already in use
        // may be full or held (a paused LU, a drain), and enumeration must not wait behind it.
        var address0 = new ScsiAddress(bus, target, 0);
        var probe0 = adapter.CreateUnit(address0);
        var (status0, identity0, present0) = await InquiryAsync(adapter, probe0).ConfigureAwait(false);
        if (status0 is SrbStatus.SelectionTimeout or SrbStatus.NoDevice or SrbStatus.InvalidTargetId or SrbStatus.InvalidPathId)
            return; // no target at this address

        var luns = await ReportLunsAsync(adapter, probe0).ConfigureAwait(false) ?? (present0 ? [0] : []);
        foreach (var lun in luns)
        {
            if (lun >= adapter.Configuration.MaximumNumberOfLogicalUnits) continue;
            var address = new ScsiAddress(bus, target, (byte)lun);
            var probe = lun == 0 ? probe0 : adapter.CreateUnit(address);
            var (_, identity, present) = lun == 0 ? (status0, identity0, present0) : await InquiryAsync(adapter, probe).ConfigureAwait(false);
            if (!present) continue;
            var unit = existing.GetValueOrDefault(address) ?? probe;
            unit.Identity = identity;
            found[address] = unit;
        }
    }

    private static async Task<(SrbStatus Status, LogicalUnitIdentity? Identity, bool Present)> InquiryAsync(Adapter adapter, LogicalUnit unit)
    {
        var srb = SrbPool.Shared.Rent();
        try
        {
            var cdb = srb.InitCdb(6);
            cdb[0] = InquiryOpcode;
            cdb[4] = InquiryLength;
            srb.Address = unit.Address;
            srb.Direction = DataDirection.In;
            var buffer = srb.Data.Rent(InquiryLength);
            buffer.Span.Clear();
            await adapter.SubmitInternalAsync(srb, unit).ConfigureAwait(false);
            if (srb.Status is not (SrbStatus.Success or SrbStatus.DataOverrun) || srb.DataTransferLength < 5)
                return (srb.Status, null, false);
            var data = buffer.Span[..Math.Min(srb.DataTransferLength, InquiryLength)];
            int qualifier = data[0] >> 5;
            // SPC-4 §6.6.2: qualifier 0 = a device is (or may be) connected to this LU.
            if (qualifier != 0) return (srb.Status, null, false);
            return (srb.Status, new LogicalUnitIdentity((byte)(data[0] & 0x1F), Text(data, 8, 8), Text(data, 16, 16), Text(data, 32, 4), (data[1] & 0x80) != 0), true);
        }
        finally { srb.Release(); }
    }

    private static string Text(ReadOnlySpan<byte> data, int from, int length) =>
        data.Length >= from + length ? Encoding.ASCII.GetString(data.Slice(from, length)).Trim() : "";

    private static async Task<List<int>?> ReportLunsAsync(Adapter adapter, LogicalUnit unit)
    {
        var srb = SrbPool.Shared.Rent();
        try
        {
            var cdb = srb.InitCdb(12);
            cdb[0] = ReportLunsOpcode;
            BinaryPrimitives.WriteUInt32BigEndian(cdb[6..], ReportLunsLength);
            srb.Address = unit.Address;
            srb.Direction = DataDirection.In;
            var buffer = srb.Data.Rent(ReportLunsLength);
            await adapter.SubmitInternalAsync(srb, unit).ConfigureAwait(false);
            if (srb.Status is not (SrbStatus.Success or SrbStatus.DataOverrun) || srb.DataTransferLength < 8) return null;
            var data = buffer.Span[..Math.Min(srb.DataTransferLength, ReportLunsLength)];
            int listLength = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(data), (uint)(data.Length - 8));
            var luns = new List<int>();
            for (int i = 8; i + 8 <= 8 + listLength; i += 8)
            {
                // SAM-5 §4.7: peripheral device addressing (method 00b) and flat space (01b).
                int method = data[i] >> 6;
                if (method is 0 or 1) luns.Add(((data[i] & 0x3F) << 8) | data[i + 1]);
            }
            return luns;
        }
        finally { srb.Release(); }
    }
}
