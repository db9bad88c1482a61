using System.Collections.Concurrent;

namespace StorSharp.Port;

/// <summary>
/// A pool of SRBs so the request path allocates nothing once warm. Thread-safe.
/// </summary>
public sealed class SrbPool
{
    private readonly ConcurrentQueue<Srb> _free = new();
    private int _count;

    /// <summary>The pool most callers share.</summary>
    public static SrbPool Shared { get; } = new();

    /// <summary>How many SRBs sit in the pool now.</summary>
    public int Count => _count;

    /// <summary>Takes an SRB from the pool (or makes one), reset and ready to fill.</summary>
    public Srb Rent()
    {
        if (_free.TryDequeue(out var srb)) Interlocked.Decrement(ref _count);
        else srb = new Srb(this);
        srb.RefCount = 1;
        srb.State = (int)SrbState.Building;
        return srb;
    }

    internal void Return(Srb srb)
    {
        if (_count >= 4096) return; // bounded: let the GC have the rest
        Interlocked.Increment(ref _count);
        _free.Enqueue(srb);
    }
}
