using System.Collections.Concurrent;
using StorSharp.Scsi;

namespace StorSharp.Optical;

/// <summary>Media event codes of GET EVENT STATUS NOTIFICATION's media class (MMC-6 §6.7.2.5, table 154).</summary>
internal enum MediaEventCode : byte
{
    NoChange = 0,
    EjectRequest = 1,
    NewMedia = 2,
    MediaRemoval = 3,
}

/// <summary>
/// What the MMC device keeps per LU beside the shared device-server state: the drive it serves,
/// the media events not yet reported to each I_T nexus, and the read/write error recovery mode page.
/// </summary>
internal sealed class OpticalUnit(OpticalDrive drive, DiskUnit unit)
{
    /// <summary>Events kept per nexus before the oldest are dropped (a host that never polls).</summary>
    private const int MaxPendingEvents = 8;

    private readonly ConcurrentDictionary<long, Queue<MediaEventCode>> _events = new();
    private readonly Lock _modeLock = new();
    private readonly byte[] _errorRecovery = (byte[])MmcModePages.ErrorRecoveryDefault.Clone();

    public OpticalDrive Drive { get; } = drive;

    public DiskUnit Unit { get; } = unit;

    /// <summary>Queues a media event for every I_T nexus the LU has met.</summary>
    public void Post(MediaEventCode code)
    {
        foreach (var state in Unit.Nexuses.All)
        {
            var queue = _events.GetOrAdd(state.Nexus.Id, static _ => new Queue<MediaEventCode>());
            lock (queue)
            {
                if (queue.Count == MaxPendingEvents) queue.Dequeue();
                queue.Enqueue(code);
            }
        }
    }

    /// <summary>True when a media event waits for <paramref name="nexusId"/> (the nexus is registered for events from now on).</summary>
    public bool HasMediaEvent(long nexusId)
    {
        var queue = _events.GetOrAdd(nexusId, static _ => new Queue<MediaEventCode>());
        lock (queue) return queue.Count > 0;
    }

    /// <summary>Takes the oldest media event of <paramref name="nexusId"/> (reported, so cleared), or NoChange.</summary>
    public MediaEventCode TakeMediaEvent(long nexusId)
    {
        var queue = _events.GetOrAdd(nexusId, static _ => new Queue<MediaEventCode>());
        lock (queue) return queue.Count > 0 ? queue.Dequeue() : MediaEventCode.NoChange;
    }

    /// <summary>Copies the current error recovery page (01h).</summary>
    public void ReadErrorRecovery(Span<byte> destination)
    {
        lock (_modeLock) _errorRecovery.CopyTo(destination);
    }

    /// <summary>Replaces the current error recovery page (01h).</summary>
    public void WriteErrorRecovery(ReadOnlySpan<byte> page)
    {
        lock (_modeLock) page.CopyTo(_errorRecovery);
    }
}

/// <summary>Access to the MMC state from a task.</summary>
internal static class OpticalTaskExtensions
{
    public static OpticalUnit Optical(this ScsiTask task) => (OpticalUnit)task.Unit.DeviceState!;
}
