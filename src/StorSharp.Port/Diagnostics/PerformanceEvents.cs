using System.Globalization;

namespace StorSharp.Port;

/// <summary>Writes performance summaries as events 505 and 549, to the event log and the EventSource.</summary>
internal static class PerformanceEvents
{
    public static void Write(Adapter adapter, PerformanceSummary s)
    {
        var inv = CultureInfo.InvariantCulture;
        string device = $"{adapter.DeviceName} {s.Address}";
        string success = string.Join(", ", s.SuccessCounts);
        string failure = string.Join(", ", s.FailureCounts);
        string latency = string.Join(", ", s.TotalLatencyMicroseconds);
        var data = new Dictionary<string, string>
        {
            ["Port"] = adapter.Number.ToString(inv),
            ["Path"] = s.Address.PathId.ToString(inv),
            ["Target"] = s.Address.TargetId.ToString(inv),
            ["Lun"] = s.Address.Lun.ToString(inv),
            ["IntervalSeconds"] = (s.Until - s.Since).TotalSeconds.ToString("0.###", inv),
            ["TotalIo"] = s.TotalIo.ToString(inv),
            ["LatencyBuckets"] = string.Join(", ", LatencyBuckets.Labels),
            ["SuccessCounts"] = success,
            ["FailureCounts"] = failure,
            ["TotalLatencyUs"] = latency,
            ["BytesRead"] = s.BytesRead.ToString(inv),
            ["BytesWritten"] = s.BytesWritten.ToString(inv),
            ["MaxReadLatencyUs"] = s.MaxReadLatencyMicroseconds.ToString(inv),
            ["MaxWriteLatencyUs"] = s.MaxWriteLatencyMicroseconds.ToString(inv),
            ["MaxFlushLatencyUs"] = s.MaxFlushLatencyMicroseconds.ToString(inv),
            ["MaxUnmapLatencyUs"] = s.MaxUnmapLatencyMicroseconds.ToString(inv),
            ["QueuedUs"] = s.QueuedMicroseconds.ToString(inv),
            ["BusyUs"] = s.BusyMicroseconds.ToString(inv),
            ["BusyCount"] = s.BusyCount.ToString(inv),
            ["PausedUs"] = s.PausedMicroseconds.ToString(inv),
            ["MaxOutstanding"] = s.MaxOutstanding.ToString(inv),
        };
        string message =
            $"Performance summary for Storport device (Port = {adapter.Number}, Path = {s.Address.PathId}, Target = {s.Address.TargetId}, Lun = {s.Address.Lun}): " +
            $"Total IO: {s.TotalIo}. For latency buckets of {data["LatencyBuckets"]}, the IO success counts are {success}; " +
            $"the IO failed counts are {failure}; the IO total latency (in microseconds) are {latency}. " +
            $"Total bytes read: {s.BytesRead}. Total bytes written: {s.BytesWritten}.";
        adapter.Events.Write(new StorageEvent(StorageEventIds.PerformanceSummary, adapter.Time.GetUtcNow(), EventLevel.Information,
            adapter.Registration.Name, adapter.DeviceName, message, data));
        if (PortEventSource.Log.IsEnabled())
            PortEventSource.Log.PerformanceSummary(device, s.TotalIo, success, failure, latency, s.BytesRead, s.BytesWritten,
                s.MaxReadLatencyMicroseconds, s.MaxWriteLatencyMicroseconds, s.MaxFlushLatencyMicroseconds, s.MaxUnmapLatencyMicroseconds);

        if (s.FirstError is not { } e) return;
        var errorData = new Dictionary<string, string>
        {
            ["Port"] = adapter.Number.ToString(inv),
            ["Path"] = s.Address.PathId.ToString(inv),
            ["Target"] = s.Address.TargetId.ToString(inv),
            ["Lun"] = s.Address.Lun.ToString(inv),
            ["Time"] = e.Time.ToString("O", inv),
            ["Opcode"] = $"0x{e.OperationCode:X2}",
            ["Function"] = e.Function.ToString(),
            ["SrbStatus"] = e.SrbStatus.ToString(),
            ["ScsiStatus"] = e.ScsiStatus.ToString(),
            ["SenseKey"] = $"0x{e.SenseKey:X1}",
            ["Asc"] = $"0x{e.AdditionalSenseCode:X2}",
            ["Ascq"] = $"0x{e.AdditionalSenseCodeQualifier:X2}",
            ["LatencyUs"] = e.LatencyMicroseconds.ToString(inv),
        };
        adapter.Events.Write(new StorageEvent(StorageEventIds.FirstError, adapter.Time.GetUtcNow(), EventLevel.Warning,
            adapter.Registration.Name, adapter.DeviceName,
            $"First error on Storport device (Port = {adapter.Number}, Path = {s.Address.PathId}, Target = {s.Address.TargetId}, Lun = {s.Address.Lun}) at {e.Time:O}: " +
            $"opcode 0x{e.OperationCode:X2}, SrbStatus {e.SrbStatus}, ScsiStatus {e.ScsiStatus}, sense key 0x{e.SenseKey:X1}, ASC/ASCQ 0x{e.AdditionalSenseCode:X2}/0x{e.AdditionalSenseCodeQualifier:X2}, latency {e.LatencyMicroseconds} us.",
            errorData));
        if (PortEventSource.Log.IsEnabled())
            PortEventSource.Log.FirstError(device, e.OperationCode, (int)e.SrbStatus, (int)e.ScsiStatus, e.SenseKey, e.AdditionalSenseCode, e.AdditionalSenseCodeQualifier, e.LatencyMicroseconds);
    }
}

/// <summary>Mirrors event-log entries into the EventSource (Errors or Enumeration keyword by id).</summary>
internal static class PortEventMirror
{
    public static void OnLogged(StorageEvent e)
    {
        var log = PortEventSource.Log;
        if (!log.IsEnabled() || e.Id is StorageEventIds.PerformanceSummary or StorageEventIds.FirstError) return;
        if (e.Id is StorageEventIds.AdapterStarted or StorageEventIds.AdapterStopped or StorageEventIds.LunAdded or StorageEventIds.LunRemoved or StorageEventIds.QueueDepthSet)
            log.EnumerationEvent(e.Id, (int)e.Level, e.Device, e.Message);
        else
            log.PortEvent(e.Id, (int)e.Level, e.Device, e.Message);
    }
}
