using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using StorSharp.Block;
using StorSharp.Class;
using StorSharp.Nbd.Protocol;
using StorSharp.Port;
using StorSharp.Scsi;
using StorSharp.Transport;

namespace StorSharp.Nbd.Server;

/// <summary>
/// One NBD connection: negotiation, then the transmission phase. One receive loop parses every
/// complete request in what it received and submits each as an SRB (or, for the rare split,
/// unaligned or non-data commands, as a <see cref="LunBlockDevice"/> call, which also ends in
/// SRBs). Completions come back through <see cref="OnSrbCompleted"/> on any thread (inline from
/// the submit when the miniport completes at once) and queue their reply. One sender at a time
/// drains the queue into a <see cref="ReplyBatch"/> and sends it with one gather write: the receive
/// loop starts it itself after dispatching a batch of requests, and a completion on another
/// thread starts it only when no sender is running. No thread waits for I/O and the usual path
/// has no thread hop between receiving requests and sending their replies (docs/nbd.md, "Send path").
/// </summary>
internal sealed class NbdConnection : ISrbCompletionHandler
{
    /// <summary>A READ reply this large is sent at once, even while the receive loop is still dispatching, so sending overlaps reading.</summary>
    private const int EarlySendBytes = 256 * 1024;

    private readonly NbdServerCore _core;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly Stream? _rawInput;
    private readonly PollingNetworkStream? _polledInput;
    private readonly NbdReplySink _sink;
    private readonly IAsyncDisposable? _transport;
    private readonly string _peer;
    private readonly int _maxInFlight;
    private readonly long _maxInFlightBytes;

    private readonly ConcurrentQueue<NbdRequestState> _replies = new();
    private readonly ReplyBatch _batch = new();
    private readonly AsyncSignal _slotFreed = new();
    private readonly Stack<NbdRequestState> _statePool = new();
    private readonly Lock _statePoolLock = new();
    private int _inFlight;
    private long _inFlightBytes;
    private volatile bool _closing;
    private volatile bool _serving;     // negotiation chose an export; the fields below are set
    private int _dropRequested;
    private readonly CancellationTokenSource _dropped = new();
    private volatile bool _outputBroken;
    private int _senderActive;          // 1 while a sender owns _batch and the socket's send side
    private volatile int _dispatchThread; // the receive loop's thread while it dispatches a batch of requests, else 0
    private bool _wrote;

    // Set once negotiation chose an export.
    private NbdSession _session = null!;
    private NbdExportState _export = null!;
    private LunBlockDevice _device = null!;
    private Adapter _adapter = null!;
    private ScsiAddress _address;
    private InitiatorNexus _nexus = null!;
    private int _blockSize;
    private ulong _size;
    private uint _maxPayload;
    private int _maxTransferBytes;
    private int _retryCount;

    /// <param name="core">What the server's connections share.</param>
    /// <param name="input">Requests.</param>
    /// <param name="output">Negotiation replies.</param>
    /// <param name="rawInput">The stream under <paramref name="input"/>: the rest of a WRITE payload is read from it straight into the request's buffer once the pipe holds nothing more; null to always read through the pipe.</param>
    /// <param name="sink">Transmission-phase replies.</param>
    /// <param name="transport">Disposed when the connection ends.</param>
    /// <param name="peer">The client, for logs.</param>
    public NbdConnection(NbdServerCore core, PipeReader input, PipeWriter output, Stream? rawInput, NbdReplySink sink, IAsyncDisposable? transport, string peer)
    {
        _core = core;
        _input = input;
        _output = output;
        _rawInput = rawInput;
        _polledInput = rawInput as PollingNetworkStream;
        _sink = sink;
        _transport = transport;
        _peer = peer;
        _maxInFlight = core.Options.MaxInFlightPerConnection;
        _maxInFlightBytes = core.Options.MaxInFlightBytesPerConnection;
    }

    /// <summary>The client's address, for logs.</summary>
    public string Peer => _peer;

    /// <summary>Requests in flight now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Whether the connection is in the transmission phase on the LU at <paramref name="address"/> of <paramref name="adapter"/>.</summary>
    public bool Serves(Adapter adapter, ScsiAddress address) => _serving && ReferenceEquals(_adapter, adapter) && _address == address;

    /// <summary>
    /// Drops the connection as a network failure would (fault injection's connection drop): the
    /// transport is shut down at once, so the client sees the connection end and replies not yet sent
    /// are lost; requests already in the port still finish there before their buffers are freed.
    /// </summary>
    public void Drop(string reason)
    {
        if (Interlocked.Exchange(ref _dropRequested, 1) != 0) return;
        _core.Log($"{_peer}: dropping the connection: {reason}.");
        _sink.Abort();
        _dropped.Cancel();
    }

    /// <summary>Runs the connection to its end; never throws.</summary>
    public async Task RunAsync(CancellationToken serverStopping)
    {
        bool disconnectRequested = false;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(serverStopping, _dropped.Token);
        var cancellationToken = linked.Token;
        try
        {
            NbdSession? session;
            try
            {
                session = await new NbdNegotiation(_input, _output, _core, _peer).RunAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NbdProtocolException ex)
            {
                _core.Log($"{_peer}: closing during negotiation: {ex.Message}.");
                return;
            }
            if (session is null) return;
            Start(session);
            _core.Log($"{_peer}: serving export '{_export.Name}' ({_size} bytes{(_export.ReadOnly ? ", read-only" : "")}{(_session.StructuredReplies ? ", structured replies" : "")}).");
            disconnectRequested = await ReceiveLoopAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NbdProtocolException ex)
        {
            _core.Log($"{_peer}: closing: {ex.Message}.");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _core.Log($"{_peer}: closing: {(_dropRequested != 0 ? "the connection was dropped" : "the server is stopping")}.");
        }
        catch (Exception ex)
        {
            _core.Log($"{_peer}: connection lost: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            await FinishAsync(disconnectRequested).ConfigureAwait(false);
        }
    }

    private void Start(NbdSession session)
    {
        _session = session;
        _export = session.Export;
        _nexus = new InitiatorNexus($"nbd:{_peer}", $"storsharp:nbd:{_export.Name}");
        _device = _export.Device.WithNexus(_nexus);
        _adapter = _device.Adapter;
        _address = _device.Address;
        _blockSize = _export.BlockSize;
        _size = _export.Size;
        _maxPayload = _export.MaxPayload;
        _maxTransferBytes = (int)Math.Min((long)_device.MaximumTransferBlocks * _blockSize, int.MaxValue);
        _retryCount = _device.RetryCount;
        _serving = true;
    }

    private async Task FinishAsync(bool disconnectRequested)
    {
        try
        {
            // NBD_CMD_DISC (proto.md): finish every outstanding request, then close. Requests that
            // the port holds complete (or time out and are reset) before their buffers are freed.
            while (Volatile.Read(ref _inFlight) > 0) await _slotFreed.WaitAsync().ConfigureAwait(false);
            if (disconnectRequested && _wrote)
            {
                try { await _device.FlushAsync().ConfigureAwait(false); }
                catch (Exception ex) { _core.Log($"{_peer}: the flush after NBD_CMD_DISC failed: {ex.Message}"); }
            }
            _closing = true;
            // The sender released the last request just before it let go of the batch.
            while (Volatile.Read(ref _senderActive) != 0) await Task.Delay(1).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _core.Log($"{_peer}: error while closing: {ex.Message}");
        }
        finally
        {
            try { await _input.CompleteAsync().ConfigureAwait(false); } catch { /* the transport is going anyway */ }
            try { await _output.CompleteAsync().ConfigureAwait(false); } catch { /* the transport is going anyway */ }
            if (_transport is not null)
            {
                try { await _transport.DisposeAsync().ConfigureAwait(false); } catch { /* already closed */ }
            }
            lock (_statePoolLock) _statePool.Clear();
            if (Volatile.Read(ref _senderActive) == 0) _batch.ReturnBuffer();
            _serving = false;
        }
    }

    // ------------------------------------------------------------------ receive

    /// <summary>Parses and dispatches requests until NBD_CMD_DISC (true) or the end of the stream (false).</summary>
    private async Task<bool> ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            int dispatched = 0;      // requests the last receive brought
            bool boundary = false;   // nothing of a request is left unread
            while (true)
            {
                EndBatch();
                // A client in lock step waits for each reply before it sends again: the next request
                // comes soon, and the receive may poll for it (PollingNetworkStream decides).
                if (boundary) _polledInput?.AtRequestBoundary(dispatched);
                var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                BeginBatch();
                var buffer = result.Buffer;
                bool advanced = false;
                dispatched = 0;
                boundary = true;
                while (buffer.Length >= NbdTransmissionCodec.RequestLength)
                {
                    if (OverBudget())
                    {
                        // Back-pressure: stop reading until replies free a slot; TCP does the rest.
                        // The replies queued so far must leave first: sending them frees the slots.
                        _input.AdvanceTo(buffer.Start);
                        advanced = true;
                        boundary = false; // requests are still waiting in the pipe
                        EndBatch();
                        while (OverBudget()) await _slotFreed.WaitAsync().ConfigureAwait(false);
                        break;
                    }
                    if (NbdTransmissionCodec.TryReadRequest(buffer, out var request) == NbdRequestReadStatus.BadMagic)
                        throw new NbdProtocolException("a request had a bad magic number; the stream is out of sync");
                    buffer = buffer.Slice(NbdTransmissionCodec.RequestLength);
                    dispatched++;

                    if (request.Command == NbdCommand.Write)
                    {
                        // proto.md: a server MAY close the connection when a WRITE's payload is larger
                        // than it can take: skipping it would mean reading it all. We never buffer it.
                        if (request.Length > _maxPayload)
                            throw new NbdProtocolException($"a WRITE of {request.Length} bytes exceeds the maximum payload of {_maxPayload}");
                        var state = BeginWrite(request, out var destination);
                        long take = Math.Min(buffer.Length, request.Length);
                        if (!destination.IsEmpty) buffer.Slice(0, take).CopyTo(destination.Span);
                        buffer = buffer.Slice(take);
                        if (take < request.Length)
                        {
                            // The payload took everything received so far; the rest is still coming.
                            _input.AdvanceTo(buffer.Start);
                            advanced = true;
                            EndBatch();
                            bool complete;
                            try
                            {
                                complete = await ReadPayloadAsync(destination, (int)take, (int)request.Length, cancellationToken).ConfigureAwait(false);
                            }
                            catch
                            {
                                state.NoReply = true; // the connection failed mid-payload: release the request unanswered
                                Enqueue(state);
                                throw;
                            }
                            if (!complete)
                            {
                                state.NoReply = true; // the client went away mid-payload
                                Enqueue(state);
                                return false;
                            }
                            BeginBatch();
                            EndWrite(state);
                            // A raw read took exactly the payload, so the pipe is empty; a payload
                            // skipped through the pipe may have brought the next request with it.
                            boundary = _rawInput is not null && !destination.IsEmpty;
                            break;
                        }
                        EndWrite(state);
                        continue;
                    }
                    if (request.Command == NbdCommand.Disconnect)
                    {
                        _input.AdvanceTo(buffer.Start);
                        return true;
                    }
                    Dispatch(request);
                }
                if (!advanced)
                {
                    boundary = buffer.IsEmpty;
                    if (result.IsCompleted || result.IsCanceled)
                    {
                        _input.AdvanceTo(buffer.Start, buffer.End);
                        if (buffer.Length > 0) _core.Log($"{_peer}: the client closed the connection in the middle of a request.");
                        return false;
                    }
                    _input.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        finally
        {
            EndBatch();
        }
    }

    /// <summary>From here until <see cref="EndBatch"/>, replies completed on this thread only queue up: the batch is sent once.</summary>
    private void BeginBatch() => _dispatchThread = Environment.CurrentManagedThreadId;

    /// <summary>Ends a dispatch batch (before the receive loop awaits anything) and sends what it queued.</summary>
    private void EndBatch()
    {
        _dispatchThread = 0;
        if (!_replies.IsEmpty) KickSender();
    }

    private bool OverBudget()
    {
        int n = Volatile.Read(ref _inFlight);
        return n >= _maxInFlight || (n > 0 && Volatile.Read(ref _inFlightBytes) >= _maxInFlightBytes);
    }

    /// <summary>
    /// Reads the rest of a WRITE payload into its buffer (or discards it). The pipe is empty here
    /// (the payload took all it held), so with a raw stream the bytes go straight from the socket
    /// into the request's buffer: no copy through the pipe and as few receives as the kernel allows.
    /// </summary>
    private async ValueTask<bool> ReadPayloadAsync(Memory<byte> destination, int have, int length, CancellationToken cancellationToken)
    {
        if (_rawInput is not null && !destination.IsEmpty)
        {
            // From a socket, the kernel wakes us once per large chunk of the payload (SO_RCVLOWAT).
            int n = _rawInput is NetworkStream network
                ? await PayloadReader.ReadPayloadAsync(network, destination[have..length], cancellationToken).ConfigureAwait(false)
                : await _rawInput.ReadAtLeastAsync(destination[have..length], length - have, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return have + n == length;
        }
        while (have < length)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            int take = (int)Math.Min(buffer.Length, length - have);
            if (!destination.IsEmpty) buffer.Slice(0, take).CopyTo(destination.Span[have..]);
            have += take;
            _input.AdvanceTo(buffer.GetPosition(take));
            if (have < length && (result.IsCompleted || result.IsCanceled)) return false;
        }
        return true;
    }

    // ------------------------------------------------------------------ dispatch

    private NbdRequestState BeginWrite(in NbdRequest request, out Memory<byte> destination)
    {
        destination = default;
        var state = RentState(request);
        state.Bytes = request.Length;
        Interlocked.Add(ref _inFlightBytes, request.Length);
        if ((request.Flags & ~NbdCommandFlags.Fua) != 0) state.Error = Errno.EINVAL;
        else if (_export.ReadOnly) state.Error = Errno.EPERM;
        else if (request.Length == 0) state.Error = Errno.EINVAL;
        else if (!InRange(request)) state.Error = Errno.ENOSPC; // proto.md: writes past the end SHOULD get ENOSPC
        if (state.Error != Errno.None)
        {
            // The payload must still be consumed; a pooled scratch buffer would only cost copies, so
            // the bytes are skipped.
            return state;
        }
        int length = (int)request.Length;
        if (IsAligned(request) && length <= _maxTransferBytes)
        {
            var srb = SrbPool.Shared.Rent();
            _adapter.MarkReceived(srb);
            ScsiCdb.Write16(srb, (long)(request.Offset / (uint)_blockSize), (uint)(length / _blockSize), (request.Flags & NbdCommandFlags.Fua) != 0);
            destination = srb.Data.Rent(length);
            state.Srb = srb;
        }
        else
        {
            state.Buffer = ArrayPool<byte>.Shared.Rent(length);
            destination = state.Buffer.AsMemory(0, length);
        }
        return state;
    }

    private void EndWrite(NbdRequestState state)
    {
        if (state.Error != Errno.None) { Enqueue(state); return; }
        _wrote = true;
        if (state.Srb is { } srb) Submit(state, srb);
        else _ = SlowWriteAsync(state);
    }

    private void Dispatch(in NbdRequest request)
    {
        var state = RentState(request);
        switch (request.Command)
        {
            case NbdCommand.Read:
            {
                var allowed = _session.StructuredReplies ? NbdCommandFlags.DontFragment : NbdCommandFlags.None;
                if ((request.Flags & ~allowed) != 0 || request.Length == 0) { Fail(state, Errno.EINVAL); return; }
                // We never fragment a READ reply, so DF is always honoured; only an oversized READ
                // cannot be (proto.md: EOVERFLOW for DF, else EINVAL).
                if (request.Length > _maxPayload)
                {
                    Fail(state, (request.Flags & NbdCommandFlags.DontFragment) != 0 ? Errno.EOVERFLOW : Errno.EINVAL);
                    return;
                }
                if (!InRange(request)) { Fail(state, Errno.EINVAL); return; }
                state.Bytes = request.Length;
                Interlocked.Add(ref _inFlightBytes, request.Length);
                int length = (int)request.Length;
                if (IsAligned(request) && length <= _maxTransferBytes)
                {
                    var srb = SrbPool.Shared.Rent();
                    _adapter.MarkReceived(srb);
                    ScsiCdb.Read16(srb, (long)(request.Offset / (uint)_blockSize), (uint)(length / _blockSize));
                    // The miniport fills this pooled buffer; a large reply is sent straight from it.
                    state.Data = srb.Data.Rent(length);
                    state.Srb = srb;
                    Submit(state, srb);
                }
                else _ = SlowReadAsync(state);
                return;
            }
            case NbdCommand.Flush:
            {
                if (request.Flags != 0) { Fail(state, Errno.EINVAL); return; }
                var srb = SrbPool.Shared.Rent();
                _adapter.MarkReceived(srb);
                ScsiCdb.SynchronizeCache16(srb); // whole LU (SBC-4 §5.29): covers every completed write
                state.Srb = srb;
                Submit(state, srb);
                return;
            }
            case NbdCommand.Trim:
                if ((request.Flags & ~NbdCommandFlags.Fua) != 0 || request.Length == 0) { Fail(state, Errno.EINVAL); return; }
                if (_export.ReadOnly) { Fail(state, Errno.EPERM); return; }
                if ((_export.BaseFlags & NbdTransmissionFlags.SendTrim) == 0 || !InRange(request)) { Fail(state, Errno.EINVAL); return; }
                _wrote = true;
                _ = TrimAsync(state);
                return;
            case NbdCommand.WriteZeroes:
                if ((request.Flags & ~(NbdCommandFlags.Fua | NbdCommandFlags.NoHole | NbdCommandFlags.FastZero)) != 0 || request.Length == 0) { Fail(state, Errno.EINVAL); return; }
                if (_export.ReadOnly) { Fail(state, Errno.EPERM); return; }
                if (!InRange(request)) { Fail(state, Errno.ENOSPC); return; }
                _wrote = true;
                _ = WriteZeroesAsync(state);
                return;
            case NbdCommand.Cache:
                if (request.Flags != 0 || request.Length == 0 || !InRange(request)) { Fail(state, Errno.EINVAL); return; }
                _ = CacheAsync(state);
                return;
            case NbdCommand.BlockStatus:
                // proto.md: BLOCK_STATUS needs a selected metadata context.
                if ((request.Flags & ~NbdCommandFlags.ReqOne) != 0 || request.Length == 0 || !_session.BaseAllocation || !InRange(request))
                {
                    Fail(state, Errno.EINVAL);
                    return;
                }
                _ = BlockStatusAsync(state);
                return;
            default:
                Fail(state, Errno.EINVAL); // unknown command (proto.md: EINVAL)
                return;
        }
    }

    private bool InRange(in NbdRequest r) => r.Length <= _size && r.Offset <= _size - r.Length; // cannot overflow

    private bool IsAligned(in NbdRequest r) => (r.Offset | r.Length) % (uint)_blockSize == 0;

    private void Submit(NbdRequestState state, Srb srb)
    {
        srb.Address = _address;
        srb.Nexus = _nexus;
        srb.CompletionHandler = this;
        srb.OriginalRequest = state;
        try
        {
            ClassRetry.Submit(_adapter, srb); // the class role: a miniport timeout is logged (153) and retried
        }
        catch (InvalidOperationException ex)
        {
            _core.Log($"{_peer}: the port refused a request: {ex.Message}");
            Fail(state, Errno.EIO);
        }
    }

    private void Fail(NbdRequestState state, Errno error)
    {
        state.Error = error;
        Enqueue(state);
    }

    /// <summary>The port hands back an SRB (any thread, maybe inline from Submit).</summary>
    public void OnSrbCompleted(Srb srb)
    {
        var state = (NbdRequestState)srb.OriginalRequest!;
        var outcome = ScsiSenseMapper.Classify(srb, out var error);
        if (outcome == ScsiOutcome.Success)
        {
            if (state.Request.Command == NbdCommand.Read && srb.DataTransferLength < state.Request.Length) state.Error = Errno.EIO;
        }
        else if (outcome == ScsiOutcome.Retry && !ClassRetry.RetriesExhausted(srb) && state.Retries < _retryCount && !_closing)
        {
            Retry(state, srb);
            return;
        }
        else
        {
            state.Error = ScsiSenseMapper.ToErrno(outcome == ScsiOutcome.Retry ? BlockError.MediumError : error, state.IsWrite);
        }
        if (!ReferenceEquals(srb, state.Srb)) srb.Release(); // a retry SRB; the first one owns the buffer
        Enqueue(state);
    }

    /// <summary>
    /// Sends a request again after a transient failure, as disk.sys does: at once after UNIT
    /// ATTENTION, after the class retry interval (on the port's heartbeat) otherwise. The retry
    /// borrows the first SRB's buffer, which stays alive until the reply is written.
    /// </summary>
    private void Retry(NbdRequestState state, Srb failed)
    {
        var first = state.Srb!;
        bool unitAttention = failed.ScsiStatus == ScsiStatus.CheckCondition &&
            SenseData.TryParse(failed.SenseData, out var sense) && sense.Code.Key == SenseKey.UnitAttention;
        var retry = SrbPool.Shared.Rent();
        retry.Function = first.Function;
        retry.SetCdb(first.Cdb);
        retry.Direction = first.Direction;
        if (first.Data.Count > 0) retry.Data.Add(first.Data[0]);
        retry.Address = _address;
        retry.Nexus = _nexus;
        retry.CompletionHandler = this;
        retry.OriginalRequest = state;
        if (!ReferenceEquals(failed, first)) failed.Release();
        state.Retries++;
        var interval = _device.RetryInterval;
        try
        {
            if (unitAttention || interval <= TimeSpan.Zero) ClassRetry.Submit(_adapter, retry);
            else ClassRetry.SubmitAfter(_adapter, retry, interval);
        }
        catch (InvalidOperationException)
        {
            retry.Release();
            state.Error = Errno.EIO;
            Enqueue(state);
        }
    }

    // ------------------------------------------------------------------ slow paths (LunBlockDevice)

    private async Task SlowReadAsync(NbdRequestState state)
    {
        int length = (int)state.Request.Length;
        state.Buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            await _device.ReadAtAsync((long)state.Request.Offset, state.Buffer.AsMemory(0, length)).ConfigureAwait(false);
            state.Data = state.Buffer.AsMemory(0, length);
        }
        catch (Exception ex) { state.Error = ToErrno(ex, isWrite: false); }
        Enqueue(state);
    }

    private async Task SlowWriteAsync(NbdRequestState state)
    {
        try
        {
            var flags = (state.Request.Flags & NbdCommandFlags.Fua) != 0 ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None;
            await _device.WriteAtAsync((long)state.Request.Offset, state.Buffer.AsMemory(0, (int)state.Request.Length), flags).ConfigureAwait(false);
        }
        catch (Exception ex) { state.Error = ToErrno(ex, isWrite: true); }
        Enqueue(state);
    }

    private async Task TrimAsync(NbdRequestState state)
    {
        try
        {
            // TRIM is advisory: only whole blocks inside the range are unmapped.
            long bs = _blockSize;
            long first = ((long)state.Request.Offset + bs - 1) / bs;
            long end = ((long)state.Request.Offset + state.Request.Length) / bs;
            if (end > first) await _device.UnmapAsync(first, end - first).ConfigureAwait(false);
            if ((state.Request.Flags & NbdCommandFlags.Fua) != 0 && end > first)
                await _device.SynchronizeRangeAsync(first, end - first).ConfigureAwait(false);
        }
        catch (Exception ex) { state.Error = ToErrno(ex, isWrite: true); }
        Enqueue(state);
    }

    private async Task WriteZeroesAsync(NbdRequestState state)
    {
        byte[]? partial = null;
        try
        {
            var r = state.Request;
            var flags = WriteZeroesFlags.None;
            if ((r.Flags & NbdCommandFlags.NoHole) == 0) flags |= WriteZeroesFlags.MayUnmap;
            if ((r.Flags & NbdCommandFlags.FastZero) != 0) flags |= WriteZeroesFlags.FastOnly;
            if ((r.Flags & NbdCommandFlags.Fua) != 0) flags |= WriteZeroesFlags.ForceUnitAccess;
            var writeFlags = (flags & WriteZeroesFlags.ForceUnitAccess) != 0 ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None;
            if ((flags & WriteZeroesFlags.FastOnly) != 0 && (_device.Capabilities & BlockDeviceCapabilities.WriteZeroes) == 0)
                throw new BlockDeviceException(BlockError.NotSupported, "no fast zeroing");
            long bs = _blockSize;
            long offset = (long)r.Offset, end = offset + r.Length;
            long first = (offset + bs - 1) / bs, last = end / bs; // whole blocks [first, last)
            if (last <= first)
            {
                partial = ArrayPool<byte>.Shared.Rent((int)r.Length);
                Array.Clear(partial, 0, (int)r.Length);
                await _device.WriteAtAsync(offset, partial.AsMemory(0, (int)r.Length), writeFlags).ConfigureAwait(false);
            }
            else
            {
                int head = (int)(first * bs - offset), tail = (int)(end - last * bs);
                if (head > 0 || tail > 0)
                {
                    partial = ArrayPool<byte>.Shared.Rent(_blockSize);
                    Array.Clear(partial, 0, _blockSize);
                    if (head > 0) await _device.WriteAtAsync(offset, partial.AsMemory(0, head), writeFlags).ConfigureAwait(false);
                    if (tail > 0) await _device.WriteAtAsync(last * bs, partial.AsMemory(0, tail), writeFlags).ConfigureAwait(false);
                }
                await _device.WriteZeroesAsync(first, last - first, flags).ConfigureAwait(false);
            }
        }
        catch (Exception ex) { state.Error = ToErrno(ex, isWrite: true); }
        finally { if (partial is not null) ArrayPool<byte>.Shared.Return(partial); }
        Enqueue(state);
    }

    private async Task CacheAsync(NbdRequestState state)
    {
        try
        {
            long bs = _blockSize;
            long first = (long)state.Request.Offset / bs;
            long end = ((long)state.Request.Offset + state.Request.Length + bs - 1) / bs;
            await _device.PreFetchAsync(first, end - first).ConfigureAwait(false);
        }
        catch (Exception ex) { state.Error = ToErrno(ex, isWrite: false); }
        Enqueue(state);
    }

    private async Task BlockStatusAsync(NbdRequestState state)
    {
        const int MaxExtents = 256;
        BlockExtent[]? extents = null;
        try
        {
            var r = state.Request;
            long bs = _blockSize;
            long offset = (long)r.Offset, end = offset + r.Length;
            long first = offset / bs, last = (end + bs - 1) / bs;
            bool one = (r.Flags & NbdCommandFlags.ReqOne) != 0;
            int max = one ? 1 : MaxExtents;
            extents = ArrayPool<BlockExtent>.Shared.Rent(max);
            int n = await _device.GetExtentsAsync(first, last - first, extents.AsMemory(0, max)).ConfigureAwait(false);
            var descriptors = ArrayPool<uint>.Shared.Rent(2 * Math.Max(1, n));
            int count = 0;
            long position = offset;
            for (int i = 0; i < n && position < end; i++)
            {
                var e = extents[i];
                long eEnd = Math.Min((e.Lba + e.BlockCount) * bs, end);
                if (eEnd <= position) continue;
                uint flags = 0;
                if ((e.Flags & BlockExtentFlags.Hole) != 0) flags |= (uint)NbdAllocationState.Hole;
                if ((e.Flags & BlockExtentFlags.Zero) != 0) flags |= (uint)NbdAllocationState.Zero;
                descriptors[2 * count] = (uint)(eEnd - position);
                descriptors[2 * count + 1] = flags;
                count++;
                position = eEnd;
            }
            if (count == 0) { descriptors[0] = r.Length; descriptors[1] = 0; count = 1; } // nothing usable: "data"
            state.Descriptors = descriptors;
            state.DescriptorCount = count;
        }
        catch (Exception ex) { state.Error = ToErrno(ex, isWrite: false); }
        finally { if (extents is not null) ArrayPool<BlockExtent>.Shared.Return(extents); }
        Enqueue(state);
    }

    private Errno ToErrno(Exception ex, bool isWrite)
    {
        if (ex is BlockDeviceException b) return ScsiSenseMapper.ToErrno(b.Error, isWrite);
        _core.Log($"{_peer}: request failed unexpectedly: {ex.GetType().Name}: {ex.Message}");
        return Errno.EIO;
    }

    // ------------------------------------------------------------------ replies

    /// <summary>Queues a finished request's reply (any thread) and makes sure a sender will send it.</summary>
    private void Enqueue(NbdRequestState state)
    {
        _replies.Enqueue(state);
        // On the receive loop's thread while it dispatches, the batch is sent when it ends; a large
        // READ is sent at once, so the socket works while the loop goes on.
        if (_dispatchThread == Environment.CurrentManagedThreadId && state.Data.Length < EarlySendBytes) return;
        KickSender();
    }

    /// <summary>Starts a sender on this thread unless one is running (that one will see the new replies).</summary>
    private void KickSender()
    {
        if (Interlocked.CompareExchange(ref _senderActive, 1, 0) == 0) _ = SendLoopAsync();
    }

    /// <summary>
    /// The only sender while it runs: drains the reply queue into batches and sends each with one
    /// write, then releases the batch's requests. Runs on the thread that started it until a send
    /// cannot complete at once; never throws.
    /// </summary>
    private async Task SendLoopAsync()
    {
        var batch = _batch;
        while (true)
        {
            try
            {
                while (_replies.TryPeek(out var next) && TryAddReply(batch, next)) _replies.TryDequeue(out _);
            }
            catch (Exception ex)
            {
                BreakOutput(ex); // a bug in encoding: the stream cannot be trusted any more
                batch.Clear();
                continue;
            }
            if (batch.Requests.Count == 0)
            {
                Volatile.Write(ref _senderActive, 0);
                // A reply queued after the last look but before the flag dropped found the sender
                // still running: look again, and take the sender role back if it is free.
                if (_replies.IsEmpty || Interlocked.CompareExchange(ref _senderActive, 1, 0) != 0) return;
                continue;
            }
            batch.CloseRun();
            if (!_outputBroken && batch.Segments.Count > 0)
            {
                try { await _sink.SendAsync(batch.Segments).ConfigureAwait(false); }
                catch (Exception ex) { BreakOutput(ex); }
            }
            var requests = batch.Requests;
            bool sent = !_outputBroken;
            for (int i = 0; i < requests.Count; i++)
            {
                // The diagnostics' last stage: the reply left in this batch (a broken stream sent nothing).
                if (sent && requests[i].Srb is { } done) _adapter.MarkReplySent(done);
                ReturnState(requests[i]);
            }
            batch.Clear();
        }
    }

    private void BreakOutput(Exception ex)
    {
        if (_outputBroken) return;
        _outputBroken = true;
        _core.Log($"{_peer}: cannot send replies any more ({ex.GetType().Name}: {ex.Message}); finishing in-flight requests without them.");
        _input.CancelPendingRead(); // stop reading requests we cannot answer
    }

    /// <summary>Adds one request's reply to the batch; false (nothing added) when the batch is full.</summary>
    private bool TryAddReply(ReplyBatch batch, NbdRequestState state)
    {
        if (state.NoReply || _outputBroken)
        {
            batch.Requests.Add(state); // released with the batch, nothing sent
            return true;
        }
        var r = state.Request;
        bool structured = _session.StructuredReplies;
        bool chunked = structured && r.Command is NbdCommand.Read or NbdCommand.BlockStatus;
        if (state.Error != Errno.None)
        {
            if (chunked)
            {
                // proto.md: once structured replies are negotiated, a READ error is an ERROR chunk.
                if (!batch.Fits(NbdTransmissionCodec.ErrorChunkLength, 0)) return false;
                NbdTransmissionCodec.TryWriteErrorChunk(batch.GetSpan(NbdTransmissionCodec.ErrorChunkLength), NbdReplyFlags.Done, r.Cookie, (uint)state.Error, default, out int w);
                batch.Advance(w);
            }
            else if (!TryAddSimple(batch, state.Error, r.Cookie)) return false;
        }
        else if (r.Command == NbdCommand.Read)
        {
            int length = state.Data.Length;
            int header = structured ? NbdTransmissionCodec.OffsetDataHeaderLength : NbdTransmissionCodec.SimpleReplyLength;
            bool inPlace = length >= ReplyBatch.CopyLimit;
            if (!batch.Fits(header + (inPlace ? 0 : length), inPlace ? length : 0)) return false;
            var span = batch.GetSpan(header);
            if (structured) NbdTransmissionCodec.TryWriteOffsetDataHeader(span, NbdReplyFlags.Done, r.Cookie, r.Offset, (uint)length, out _);
            else NbdTransmissionCodec.TryWriteSimpleReply(span, 0, r.Cookie, out _);
            batch.Advance(header);
            if (inPlace) batch.AddInPlace(state.Data);
            else
            {
                state.Data.Span.CopyTo(batch.GetSpan(length));
                batch.Advance(length);
            }
        }
        else if (chunked) // BLOCK_STATUS
        {
            int count = state.DescriptorCount;
            int length = NbdTransmissionCodec.BlockStatusHeaderLength + NbdTransmissionCodec.BlockDescriptorLength * count;
            if (!batch.Fits(length, 0)) return false;
            var span = batch.GetSpan(length);
            NbdTransmissionCodec.TryWriteBlockStatusHeader(span, NbdReplyFlags.Done, r.Cookie, NbdNegotiation.BaseAllocationContextId, count, out int w);
            var d = state.Descriptors!;
            for (int i = 0; i < count; i++)
            {
                NbdTransmissionCodec.TryWriteBlockDescriptor(span[w..], d[2 * i], (NbdAllocationState)d[2 * i + 1], out int dw);
                w += dw;
            }
            batch.Advance(w);
        }
        else if (!TryAddSimple(batch, Errno.None, r.Cookie)) return false;
        batch.Requests.Add(state);
        return true;
    }

    private static bool TryAddSimple(ReplyBatch batch, Errno error, ulong cookie)
    {
        if (!batch.Fits(NbdTransmissionCodec.SimpleReplyLength, 0)) return false;
        NbdTransmissionCodec.TryWriteSimpleReply(batch.GetSpan(NbdTransmissionCodec.SimpleReplyLength), (uint)error, cookie, out int w);
        batch.Advance(w);
        return true;
    }

    // ------------------------------------------------------------------ state pool

    private NbdRequestState RentState(in NbdRequest request)
    {
        NbdRequestState? state = null;
        lock (_statePoolLock) _statePool.TryPop(out state);
        state ??= new NbdRequestState();
        state.Request = request;
        Interlocked.Increment(ref _inFlight);
        return state;
    }

    private void ReturnState(NbdRequestState state)
    {
        state.Srb?.Release();
        if (state.Buffer is { } buffer) ArrayPool<byte>.Shared.Return(buffer);
        if (state.Descriptors is { } descriptors) ArrayPool<uint>.Shared.Return(descriptors);
        if (state.Bytes != 0) Interlocked.Add(ref _inFlightBytes, -state.Bytes);
        state.Reset();
        lock (_statePoolLock) _statePool.Push(state);
        Interlocked.Decrement(ref _inFlight);
        _slotFreed.Set();
    }
}
