using System.Buffers.Binary;

namespace StorSharp.Port;

/// <summary>
/// The class-driver role's retry rule (disk.sys / classpnp), done once, here, for every front end:
/// a request the <em>miniport</em> timed out or reset (SRB_STATUS_TIMEOUT, COMMAND_TIMEOUT or
/// BUS_RESET) is logged as event 153 and submitted again, up to
/// <see cref="PortTunables.ClassRetryCount"/> times, <see cref="PortTunables.ClassRetryInterval"/>
/// apart. A request the port itself failed after its own timeout (event 129) is not retried here:
/// the port already logged why, and the initiator decides.
/// </summary>
/// <remarks>Retries are scheduled on the adapter's heartbeat; nothing blocks and nothing allocates per request.</remarks>
public static class ClassRetry
{
    private static readonly RetryHandler s_handler = new();

    /// <summary>
    /// Submits <paramref name="srb"/> with class retries. Its <see cref="Srb.CompletionHandler"/>
    /// (or awaiter) sees only the final outcome.
    /// </summary>
    public static void Submit(Adapter adapter, Srb srb)
    {
        Prepare(adapter, srb);
        adapter.Submit(srb);
    }

    /// <summary>
    /// Submits <paramref name="srb"/> with class retries after <paramref name="delay"/> (on the
    /// adapter's heartbeat, as <see cref="Adapter.SubmitAfter"/>): a front end's own retry of a
    /// request that failed for another reason (BUSY, an LU reset) still gets the class rule.
    /// </summary>
    public static void SubmitAfter(Adapter adapter, Srb srb, TimeSpan delay)
    {
        Prepare(adapter, srb);
        adapter.SubmitAfter(srb, delay);
    }

    /// <summary>
    /// True when <paramref name="srb"/>'s failure is one the class layer owns: a miniport timeout it
    /// retried (event 153) until <see cref="PortTunables.ClassRetryCount"/> ran out (event 11). A front
    /// end that also retries transient failures must not retry it again.
    /// </summary>
    public static bool RetriesExhausted(Srb srb) =>
        IsMiniportTimeout(srb.Status) && !srb.CompletedByPort && !srb.ResetByPort && !srb.ResetByRequest && srb.Unit is not null;

    private static void Prepare(Adapter adapter, Srb srb)
    {
        srb.ClassHandler = srb.CompletionHandler;
        srb.ClassAdapter = adapter;
        srb.OriginalTransferLength = srb.DataTransferLength == 0 ? (int)Math.Min(int.MaxValue, srb.Data.Length) : srb.DataTransferLength;
        srb.ClassRetries = 0;
        srb.CompletionHandler = s_handler;
    }

    /// <summary>Submits with class retries and returns a task for the final outcome (no allocation).</summary>
    public static ValueTask ExecuteAsync(Adapter adapter, Srb srb)
    {
        srb.CompletionHandler = null;
        var task = srb.AsValueTask();
        Submit(adapter, srb);
        return task;
    }

    /// <summary>The least time between two event 15 entries for one LU.</summary>
    public static readonly TimeSpan NotReadyEventInterval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// True for sense data saying NOT READY for a reason other than a missing medium (ASC 3Ah, the
    /// normal answer of an empty removable drive): a unit becoming ready, stopped, sanitizing, or
    /// a fault injected as NOT READY. Reads fixed (70h/71h) and descriptor (72h/73h) formats.
    /// </summary>
    public static bool IsDeviceNotReady(ReadOnlySpan<byte> sense)
    {
        if (sense.Length < 3) return false;
        int code = sense[0] & 0x7F;
        int key, asc;
        if (code is 0x72 or 0x73) { key = sense[1] & 0x0F; asc = sense.Length > 2 ? sense[2] : 0; }
        else if (code is 0x70 or 0x71) { key = sense[2] & 0x0F; asc = sense.Length > 12 ? sense[12] : 0; }
        else return false;
        return key == 0x02 && asc != 0x3A;
    }

    /// <summary>True for the statuses that mean the miniport timed out or reset the request (event 153 material).</summary>
    public static bool IsMiniportTimeout(SrbStatus status) =>
        status is SrbStatus.Timeout or SrbStatus.CommandTimeout or SrbStatus.BusReset;

    private sealed class RetryHandler : ISrbCompletionHandler
    {
        public void OnSrbCompleted(Srb srb)
        {
            var adapter = srb.ClassAdapter!;
            var unit = srb.Unit;
            var tunables = unit?.Tunables ?? adapter.Tunables;
            if (IsMiniportTimeout(srb.Status) && !srb.CompletedByPort && !srb.ResetByPort && !srb.ResetByRequest && unit is not null)
            {
                if (srb.ClassRetries < tunables.ClassRetryCount)
                {
                    srb.ClassRetries++;
                    Log(adapter, srb, StorageEventIds.IoRetried, EventLevel.Warning,
                        $"An error was detected on device {adapter.DeviceName} {srb.Address} during a paging operation; the request was retried ({srb.ClassRetries} of {tunables.ClassRetryCount}).");
                    srb.ClearResult(srb.OriginalTransferLength);
                    adapter.SubmitAfter(srb, tunables.ClassRetryInterval);
                    return;
                }
                Log(adapter, srb, StorageEventIds.ControllerError, EventLevel.Error,
                    $"The driver detected a controller error on {adapter.DeviceName} {srb.Address}: the request failed with {srb.Status} after {srb.ClassRetries} retries.");
            }
            else if (srb.ScsiStatus == ScsiStatus.CheckCondition && unit is not null && IsDeviceNotReady(srb.SenseData))
            {
                LogNotReady(adapter, unit, srb);
            }
            srb.CompletionHandler = srb.ClassHandler;
            srb.ClassHandler = null;
            srb.ClassAdapter = null;
            srb.SignalCompleted();
        }

        /// <summary>
        /// Event 15, as disk.sys logs it, at most once per LU per <see cref="NotReadyEventInterval"/>
        /// (a unit that stays not ready would otherwise fill the log with every polled command).
        /// </summary>
        private static void LogNotReady(Adapter adapter, LogicalUnit unit, Srb srb)
        {
            long now = adapter.Time.GetTimestamp();
            long last = Volatile.Read(ref unit.LastNotReadyEventTimestamp);
            if (last != 0 && adapter.Time.GetElapsedTime(last, now) < NotReadyEventInterval) return;
            if (Interlocked.CompareExchange(ref unit.LastNotReadyEventTimestamp, now, last) != last) return;
            var sense = srb.SenseData;
            bool descriptor = (sense[0] & 0x7F) is 0x72 or 0x73;
            byte asc = descriptor ? sense[2] : sense.Length > 12 ? sense[12] : (byte)0;
            byte ascq = descriptor ? sense[3] : sense.Length > 13 ? sense[13] : (byte)0;
            Log(adapter, srb, StorageEventIds.DeviceNotReady, EventLevel.Warning,
                $"The device, {adapter.DeviceName} {srb.Address}, is not ready for access yet (sense 02/{asc:X2}/{ascq:X2}).");
        }

        private static void Log(Adapter adapter, Srb srb, int id, EventLevel level, string message)
        {
            var data = new Dictionary<string, string>
            {
                ["Address"] = srb.Address.ToString(),
                ["SrbStatus"] = $"0x{srb.RawSrbStatus:X2}",
                ["ScsiStatus"] = $"0x{(byte)srb.ScsiStatus:X2}",
                ["Opcode"] = $"0x{srb.OperationCode:X2}",
                ["Lba"] = TryGetLba(srb.Cdb, out var lba) ? lba.ToString() : "",
                ["Retry"] = srb.ClassRetries.ToString(),
            };
            adapter.Events.Write(new StorageEvent(id, adapter.Time.GetUtcNow(), level, "disk", adapter.DeviceName, message, data));
        }
    }

    /// <summary>Reads the LBA of a READ / WRITE style CDB by its group code (SPC-4 §4.2.5.1), for event data.</summary>
    public static bool TryGetLba(ReadOnlySpan<byte> cdb, out ulong lba)
    {
        lba = 0;
        if (cdb.Length < 6) return false;
        switch (cdb[0] >> 5)
        {
            case 0: lba = (ulong)(((cdb[1] & 0x1F) << 16) | (cdb[2] << 8) | cdb[3]); return true;
            case 1 or 2 when cdb.Length >= 10: lba = BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]); return true;
            case 4 when cdb.Length >= 16: lba = BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]); return true;
            case 5 when cdb.Length >= 12: lba = BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]); return true;
            default: return false;
        }
    }
}
