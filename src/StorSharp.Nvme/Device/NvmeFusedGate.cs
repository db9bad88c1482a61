namespace StorSharp.Nvme;

/// <summary>
/// Makes the fused Compare + Write pairs of one namespace atomic with respect to each other (NVMe
/// base specification §4.2, fused operations): one pair runs at a time, the others wait in order.
/// Waiting never blocks a thread: a pair that finds the gate taken is queued, and the pair that
/// leaves starts the next one. The queue allocates only when it grows.
/// </summary>
internal sealed class NvmeFusedGate
{
    private readonly Lock _lock = new();
    private readonly Queue<Action> _waiting = new();
    private bool _busy;

    /// <summary>Takes the gate and returns true, or queues <paramref name="start"/> to run when the gate is free and returns false.</summary>
    public bool TryEnter(Action start)
    {
        lock (_lock)
        {
            if (!_busy)
            {
                _busy = true;
                return true;
            }
            _waiting.Enqueue(start);
            return false;
        }
    }

    /// <summary>Leaves the gate: the next waiting pair (if any) takes it and starts on this thread.</summary>
    public void Exit()
    {
        Action? next;
        lock (_lock)
        {
            if (!_waiting.TryDequeue(out next)) _busy = false;
        }
        next?.Invoke();
    }
}
