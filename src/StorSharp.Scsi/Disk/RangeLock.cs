namespace StorSharp.Scsi;

/// <summary>
/// Exclusive LBA range locks for the read-modify-write commands (COMPARE AND WRITE, ORWRITE,
/// WRITE AND VERIFY, WRITE SAME, UNMAP), so each is atomic against every other writer of the same
/// blocks (SBC-4 §5.3: COMPARE AND WRITE is atomic). Plain WRITEs do not take a lock: they publish
/// their range on their task and check <see cref="IsIdle"/>, so the hot path costs one volatile
/// read while no lock is held (see <see cref="ScsiTask.PublishWrite"/>).
/// </summary>
internal sealed class RangeLock
{
    private readonly Lock _lock = new();
    private readonly List<Holder> _held = [];
    private volatile int _count;

    /// <summary>A held range; dispose to release.</summary>
    public sealed class Holder(RangeLock owner, long start, long end) : IDisposable
    {
        public long Start { get; } = start;
        public long End { get; } = end;
        public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Dispose() => owner.Release(this);
    }

    /// <summary>True when no range is locked.</summary>
    public bool IsIdle => _count == 0;

    /// <summary>Waits until [start, end) is free, then locks it.</summary>
    public async ValueTask<Holder> AcquireAsync(long start, long end)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                var blocker = FindLocked(start, end);
                if (blocker is null)
                {
                    var holder = new Holder(this, start, end);
                    _held.Add(holder);
                    Interlocked.Increment(ref _count);
                    return holder;
                }
                wait = blocker.Released.Task;
            }
            await wait.ConfigureAwait(false);
        }
    }

    /// <summary>Waits until nothing locks any part of [start, end).</summary>
    public async ValueTask WaitUntilFreeAsync(long start, long end)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                var blocker = FindLocked(start, end);
                if (blocker is null) return;
                wait = blocker.Released.Task;
            }
            await wait.ConfigureAwait(false);
        }
    }

    /// <summary>True when part of [start, end) is locked.</summary>
    public bool Overlaps(long start, long end)
    {
        lock (_lock) return FindLocked(start, end) is not null;
    }

    private Holder? FindLocked(long start, long end)
    {
        foreach (var h in _held) if (h.Start < end && start < h.End) return h;
        return null;
    }

    private void Release(Holder holder)
    {
        lock (_lock)
        {
            if (!_held.Remove(holder)) return;
            Interlocked.Decrement(ref _count);
        }
        holder.Released.TrySetResult();
    }
}
