using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;
using StorSharp.Block;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Client;

/// <summary>
/// One NBD request on its way: what to send, where its reply goes, and the awaitable the caller
/// holds. Pooled: the caller's <see cref="ValueTask"/> returns it to the pool once it has read the
/// result, so a request costs no allocation. Every field but the completion source is guarded by
/// the device's lock.
/// </summary>
internal sealed class NbdClientRequest : IValueTaskSource, IValueTaskSource<int>
{
    private static readonly ConcurrentBag<NbdClientRequest> Pool = [];
    private ManualResetValueTaskSourceCore<int> _source = new() { RunContinuationsAsynchronously = true };

    internal NbdCommand Command;
    internal NbdCommandFlags Flags;
    internal ulong Offset;
    internal uint Length;
    internal ReadOnlyMemory<byte> WriteData;
    internal Memory<byte> ReadBuffer;
    internal Memory<BlockExtent> Extents;
    internal int BlockSize;

    /// <summary>Extents written into <see cref="Extents"/> so far.</summary>
    internal int ExtentCount;

    /// <summary>READ payload bytes received so far (structured replies), to check the reply covers the request.</summary>
    internal long Received;

    /// <summary>The error an ERROR chunk carried, reported once DONE arrives.</summary>
    internal Exception? PendingError;

    /// <summary>How many times the request was put on a connection.</summary>
    internal int Attempts;

    /// <summary><see cref="Environment.TickCount64"/> after which the request fails.</summary>
    internal long Deadline;

    /// <summary>The request is still the caller's (not yet completed).</summary>
    internal bool Pending;

    internal CancellationTokenRegistration Cancellation;

    /// <summary>The cookie of the request's current send; 0 while it waits for a connection.</summary>
    internal ulong Cookie;

    /// <summary>The device the request was submitted to (for cancellation).</summary>
    internal NbdBlockDevice? Owner;

    /// <summary>The connection it was last put on; null while it waits for one.</summary>
    internal NbdClientConnection? Connection;

    private NbdClientRequest() { }

    internal static NbdClientRequest Rent(NbdCommand command, NbdCommandFlags flags, ulong offset, uint length)
    {
        if (!Pool.TryTake(out var request)) request = new NbdClientRequest();
        request.Command = command;
        request.Flags = flags;
        request.Offset = offset;
        request.Length = length;
        request.Pending = true;
        return request;
    }

    internal ValueTask AsValueTask() => new(this, _source.Version);

    /// <summary>The awaitable of a BLOCK_STATUS request: the number of extents.</summary>
    internal ValueTask<int> AsExtentCountTask() => new(this, _source.Version);

    /// <summary>Forgets what a partial reply left, before the request is sent again.</summary>
    internal void ResetReply()
    {
        ExtentCount = 0;
        Received = 0;
        PendingError = null;
    }

    /// <summary>Completes the request; false when it was already completed. Call under the device's lock.</summary>
    internal bool TryComplete(Exception? error)
    {
        if (!Pending) return false;
        Pending = false;
        Cancellation.Dispose();
        Cancellation = default;
        if (error is null) _source.SetResult(ExtentCount);
        else _source.SetException(error);
        return true;
    }

    void IValueTaskSource.GetResult(short token) => ((IValueTaskSource<int>)this).GetResult(token);

    int IValueTaskSource<int>.GetResult(short token)
    {
        try
        {
            return _source.GetResult(token);
        }
        finally
        {
            WriteData = default;
            ReadBuffer = default;
            Extents = default;
            ResetReply();
            Attempts = 0;
            Cookie = 0;
            Connection = null;
            Owner = null;
            _source.Reset();
            Pool.Add(this);
        }
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _source.GetStatus(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
