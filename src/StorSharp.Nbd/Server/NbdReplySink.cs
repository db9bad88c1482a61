using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace StorSharp.Nbd.Server;

/// <summary>
/// Where a connection's replies go in the transmission phase: one call sends a whole batch of
/// replies, given as a list of segments (headers and small payloads copied together, large READ
/// payloads straight from their own buffers). Used by one sender at a time.
/// </summary>
internal abstract class NbdReplySink
{
    /// <summary>Sends every byte of <paramref name="segments"/>, in order.</summary>
    public abstract ValueTask SendAsync(List<ArraySegment<byte>> segments);

    /// <summary>
    /// Ends the transport at once, both ways (a dropped connection): a pending receive ends, later
    /// sends fail, the client sees the connection close. Safe to call from any thread, more than once.
    /// </summary>
    public abstract void Abort();
}

/// <summary>
/// A connected socket: a batch leaves in one <c>sendmsg</c> (a gather write) through a reused
/// <see cref="SocketAsyncEventArgs"/>, so sending allocates nothing and, when the kernel takes the
/// bytes at once (the usual case), completes on the calling thread without a hop.
/// </summary>
internal sealed class SocketReplySink(Socket socket) : NbdReplySink
{
    private readonly GatherSend _send = new();

    public override void Abort()
    {
        try { socket.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { /* already closed by the peer */ }
        catch (ObjectDisposedException) { /* already closed here */ }
    }

    public override async ValueTask SendAsync(List<ArraySegment<byte>> segments)
    {
        long total = 0;
        foreach (var s in segments) total += s.Count;
        long sent = segments.Count == 1
            ? await socket.SendAsync(segments[0].AsMemory(), SocketFlags.None).ConfigureAwait(false)
            : await _send.SendAsync(socket, segments).ConfigureAwait(false);
        if (sent == total) return;
        // A short write (stream sockets send everything on Linux, but the contract does not say
        // so): send the rest one segment at a time.
        foreach (var s in segments)
        {
            if (sent >= s.Count) { sent -= s.Count; continue; }
            var rest = s.AsMemory((int)sent);
            sent = 0;
            while (!rest.IsEmpty)
            {
                int n = await socket.SendAsync(rest, SocketFlags.None).ConfigureAwait(false);
                rest = rest[n..];
            }
        }
    }

    /// <summary>A reusable gather send: <see cref="SocketAsyncEventArgs"/> as a value-task source.</summary>
    private sealed class GatherSend : SocketAsyncEventArgs, IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;

        public GatherSend() : base(unsafeSuppressExecutionContextFlow: true) { }

        public ValueTask<int> SendAsync(Socket socket, List<ArraySegment<byte>> segments)
        {
            _core.Reset();
            BufferList = segments;
            if (socket.SendAsync(this)) return new ValueTask<int>(this, _core.Version);
            return SocketError == SocketError.Success
                ? new ValueTask<int>(BytesTransferred)
                : ValueTask.FromException<int>(new SocketException((int)SocketError));
        }

        protected override void OnCompleted(SocketAsyncEventArgs e)
        {
            if (SocketError == SocketError.Success) _core.SetResult(BytesTransferred);
            else _core.SetException(new SocketException((int)SocketError));
        }

        int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);
        ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);
        void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);
    }
}

/// <summary>Any other stream (stdout, a test's duplex stream): the segments are written in order, then flushed.</summary>
internal sealed class StreamReplySink(Stream output) : NbdReplySink
{
    public override void Abort()
    {
        try { output.Close(); }
        catch (IOException) { /* the reader is gone already */ }
    }

    public override async ValueTask SendAsync(List<ArraySegment<byte>> segments)
    {
        foreach (var s in segments) await output.WriteAsync(s.AsMemory()).ConfigureAwait(false);
        await output.FlushAsync().ConfigureAwait(false);
    }
}
