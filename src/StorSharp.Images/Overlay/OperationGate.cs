namespace StorSharp.Images.Overlay;

/// <summary>
/// Lets many requests run at once but gives a maintenance operation (discard, merge) the device to itself:
/// requests take one slot of a semaphore, the operation takes all of them, so it starts only when every
/// request in flight has finished and no new one starts until it ends. Nothing blocks a thread.
/// </summary>
internal sealed class OperationGate : IDisposable
{
    /// <summary>Requests in flight at once; more wait their turn.</summary>
    internal const int Slots = 1024;

    private readonly SemaphoreSlim _slots = new(Slots, Slots);
    private readonly SemaphoreSlim _exclusive = new(1, 1);

    /// <summary>Waits for a slot; the caller must <see cref="Exit"/>.</summary>
    internal Task EnterAsync(CancellationToken cancellationToken) => _slots.WaitAsync(cancellationToken);

    /// <summary>Gives the slot back.</summary>
    internal void Exit() => _slots.Release();

    /// <summary>Runs <paramref name="operation"/> with no request in flight.</summary>
    internal async Task RunExclusiveAsync(Func<Task> operation, CancellationToken cancellationToken)
    {
        await _exclusive.WaitAsync(cancellationToken).ConfigureAwait(false);
        int taken = 0;
        try
        {
            for (; taken < Slots; taken++)
                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            await operation().ConfigureAwait(false);
        }
        finally
        {
            if (taken > 0) _slots.Release(taken);
            _exclusive.Release();
        }
    }

    public void Dispose()
    {
        _slots.Dispose();
        _exclusive.Dispose();
    }
}
