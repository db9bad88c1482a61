using System.Threading.Tasks.Sources;

namespace StorSharp.Nbd.Server;

/// <summary>
/// An auto-reset event for one waiter that allocates nothing: <see cref="Set"/> from any thread,
/// <see cref="WaitAsync"/> from the single consumer. A set with nobody waiting is remembered once.
/// </summary>
internal sealed class AsyncSignal : IValueTaskSource
{
    private readonly Lock _lock = new();
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private bool _signaled;
    private bool _waiting;

    public void Set()
    {
        lock (_lock)
        {
            if (!_waiting) { _signaled = true; return; }
            _waiting = false;
        }
        _core.SetResult(true);
    }

    public ValueTask WaitAsync()
    {
        lock (_lock)
        {
            if (_signaled) { _signaled = false; return ValueTask.CompletedTask; }
            _core.Reset();
            _waiting = true;
            return new ValueTask(this, _core.Version);
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);
    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
