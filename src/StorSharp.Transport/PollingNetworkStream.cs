using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace StorSharp.Transport;

/// <summary>
/// A <see cref="NetworkStream"/> that polls an empty socket for a moment before a read waits for
/// the kernel, when the protocol above says the read starts a request from a client in lock step,
/// as <see cref="ReceivePolling"/> describes. Other reads, writes and everything else are the
/// plain stream's. One read at a time, as for any stream.
/// </summary>
/// <remarks>
/// <para>
/// The protocol calls <see cref="AtRequestBoundary"/> before it reads a new request, with the
/// number of whole requests the last receive brought. A client is taken to be in lock step (queue
/// depth 1: it waits for each reply before it sends again) when <see cref="LockStepEvidence"/>
/// receives in a row that slept each brought exactly one request; then the server's wake-up is on
/// the client's critical path and reads at boundaries poll. A client that keeps many requests in
/// flight shows itself by several requests per receive: one wake-up already serves many
/// requests, and polling would only burn the gaps and break up the batches. A read served by a
/// poll, or one that found its request already waiting, did not sleep and teaches nothing, so
/// every <see cref="ProbeInterval"/>th boundary in lock step reads without polling to measure
/// again. A probe that finds several requests doubles the evidence asked for before polling
/// resumes (up to <see cref="MaximumLockStepEvidence"/>), so a deep client that happens to send
/// one request at a time now and then is seldom polled for; a probe that finds one halves it.
/// Payload reads (between boundaries) never poll: there the sender is the one to wait for.
/// </para>
/// <para>
/// A connection polls only while it is <em>hot</em>: it starts cold, becomes hot when a read at
/// a boundary waited no longer than the window, and turns cold when a poll runs out. So an idle
/// or slow client costs at most one window per idle period.
/// </para>
/// </remarks>
public sealed class PollingNetworkStream : NetworkStream
{
    /// <summary>Every this many request boundaries in lock step, one read sleeps instead of polling, to measure the client again.</summary>
    public const int ProbeInterval = 16;

    /// <summary>
    /// How many receives in a row that did not poll must each bring exactly one request before the
    /// client first counts as in lock step. Each probe that finds several requests doubles it (up to
    /// <see cref="MaximumLockStepEvidence"/>); each probe that finds one halves it again.
    /// </summary>
    public const int LockStepEvidence = 4;

    /// <summary>The most evidence ever asked for: a client with many requests in flight is probed again only after this many single-request receives in a row.</summary>
    public const int MaximumLockStepEvidence = 1024;

    // A pause between two looks at the socket: each look is a system call (poll with no timeout),
    // and the pause keeps the loop from hammering the kernel while still seeing data within a
    // microsecond or two.
    private const int PauseIterations = 20;

    private readonly ReceivePolling _polling;
    private bool _hot;
    private int _singles;        // receives in a row that did not poll and brought exactly one request
    private int _evidence = LockStepEvidence; // how many singles in a row make lock step now
    private bool _probing;       // the last read at a boundary slept on purpose, to measure the client
    private bool _armed;         // the next read starts a request and may poll
    private bool _lastReadAwake; // the last read did not sleep: a poll served it, or its request was already waiting
    private int _sinceProbe;

    /// <summary>Wraps a connected stream socket.</summary>
    /// <param name="socket">The connection.</param>
    /// <param name="polling">The polling policy, usually one per server.</param>
    /// <param name="ownsSocket">Whether disposing the stream closes the socket.</param>
    public PollingNetworkStream(Socket socket, ReceivePolling polling, bool ownsSocket) : base(socket, ownsSocket)
    {
        ArgumentNullException.ThrowIfNull(polling);
        _polling = polling;
    }

    /// <summary>Whether a read at a request boundary that finds the socket empty may poll: the last such wait ended within the window and no poll has run out since.</summary>
    public bool IsHot => _hot;

    /// <summary>Whether the client looks to be in lock step: enough receives in a row that did not poll each brought exactly one request.</summary>
    public bool IsLockStep => _singles >= _evidence;

    /// <summary>How many single-request receives in a row make lock step now (see <see cref="LockStepEvidence"/>).</summary>
    public int LockStepEvidenceNeeded => _evidence;

    /// <summary>
    /// Says that the next read starts a new request, and how many whole requests the last receive
    /// brought (0 when it ended inside a request). Decides whether that read may poll.
    /// </summary>
    public void AtRequestBoundary(int requestsInLastReceive)
    {
        // A read served by a poll, or one that found the next request already waiting, did not
        // sleep: it says nothing of how many requests the client keeps in flight.
        if (!_lastReadAwake && requestsInLastReceive > 0)
        {
            bool single = requestsInLastReceive == 1;
            if (_probing)
            {
                // A client that still sends one request at a time keeps polling cheap to start;
                // one with several queued was in lock step only by chance: ask for more proof.
                _evidence = single ? Math.Max(LockStepEvidence, _evidence / 2) : Math.Min(MaximumLockStepEvidence, _evidence * 2);
            }
            _singles = single ? Math.Min(_singles + 1, _evidence) : 0;
        }
        _probing = false;
        _armed = false;
        if (_singles < _evidence || !_polling.Enabled) return;
        if (++_sinceProbe >= ProbeInterval)
        {
            _sinceProbe = 0;
            _probing = true;
            return;
        }
        _armed = true;
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <inheritdoc />
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        bool armed = _armed;
        _armed = false;
        _lastReadAwake = false;
        if (!armed || buffer.IsEmpty) return base.ReadAsync(buffer, cancellationToken);
        if (!_hot) return WaitAndLearnAsync(buffer, cancellationToken);
        if (InputReady())
        {
            _lastReadAwake = true;
            return base.ReadAsync(buffer, cancellationToken);
        }
        if (!_polling.TryEnter()) return base.ReadAsync(buffer, cancellationToken);
        return PollThenReadAsync(buffer, cancellationToken);
    }

    /// <summary>A cold read: waits as usual, and marks the connection hot when data came within the window.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> WaitAndLearnAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        int n = await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n > 0 && Stopwatch.GetTimestamp() - start <= _polling.WindowTicks) _hot = true;
        return n;
    }

    /// <summary>A hot read holding a poller slot: polls, then reads.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> PollThenReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        bool hit = false;
        try
        {
            hit = Poll(cancellationToken);
        }
        finally
        {
            _polling.Exit(hit);
        }
        if (hit) _lastReadAwake = true;
        else _hot = false;
        return await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    private bool Poll(CancellationToken cancellationToken)
    {
        long deadline = Stopwatch.GetTimestamp() + _polling.WindowTicks;
        while (true)
        {
            if (InputReady()) return true;
            if (cancellationToken.IsCancellationRequested || Stopwatch.GetTimestamp() >= deadline) return false;
            Thread.SpinWait(PauseIterations);
        }
    }

    /// <summary>
    /// Whether a receive would complete at once: data waiting, the peer's end of stream, or an
    /// error (a closed or failed socket counts too, so that the read reports it).
    /// </summary>
    private bool InputReady()
    {
        try
        {
            return Socket.Poll(0, SelectMode.SelectRead);
        }
        catch (ObjectDisposedException) { return true; }
        catch (SocketException) { return true; }
    }

    internal bool IsArmed => _armed;
}
