using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using StorSharp.Block;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Client;

/// <summary>
/// One negotiated connection in the transmission phase: a writer task that sends queued requests
/// (headers batched, large payloads straight from the caller's buffer) and a reader task that
/// matches replies to requests by cookie, in any order, and reads READ data straight into the
/// caller's buffer. Any protocol violation or I/O error ends the connection; the device then
/// decides what becomes of the requests that were on it.
/// </summary>
internal sealed class NbdClientConnection
{
    /// <summary>Payloads up to this size are copied into the send buffer with their header; larger ones are sent from the caller's memory.</summary>
    private const int CopyThreshold = 16 * 1024;
    private const int SendBufferSize = 64 * 1024;

    /// <summary>A BLOCK_STATUS chunk longer than this is not believed.</summary>
    private const uint MaxBlockStatusChunk = 4 + 8 * 1024 * 1024;

    /// <summary>An error chunk: error, message length, a message of at most 4096 bytes, and an offset.</summary>
    private const uint MaxErrorChunk = 6 + NbdOptionCodec.MaxStringLength + 8;

    private NbdBlockDevice? _device;
    private object _gate;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly BufferedStream _input;
    private readonly Dictionary<ulong, InFlight> _inFlight = [];
    private readonly Channel<ulong> _sendQueue = Channel.CreateUnbounded<ulong>(new UnboundedChannelOptions { SingleReader = true });
    private readonly byte[] _chunkFields = new byte[12];   // the reader's: OFFSET_DATA / OFFSET_HOLE fields
    private Exception? _abortReason;
    private Task _reader = Task.CompletedTask;
    private Task _writer = Task.CompletedTask;

    private struct InFlight
    {
        internal NbdClientRequest? Request;   // null once abandoned (timed out or cancelled): its reply is read and dropped
        internal NbdCommand Command;
        internal ulong Offset;
        internal uint Length;
        internal bool Busy;                   // the writer or the reader is using the request's buffer
        internal long SentAt;
    }

    private NbdClientConnection(Socket socket, NbdExportInfo info)
    {
        _gate = new object();   // until Start hands the connection to its device
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = new BufferedStream(_stream, SendBufferSize);
        Info = info;
        LastReceive = Environment.TickCount64;
    }

    /// <summary>What the handshake learned.</summary>
    internal NbdExportInfo Info { get; }

    /// <summary>The connection failed or was closed; nothing more is sent on it. Guarded by the device's lock.</summary>
    internal bool Dead { get; private set; }

    /// <summary><see cref="Environment.TickCount64"/> of the last reply bytes received.</summary>
    internal long LastReceive { get; private set; }

    /// <summary>Requests on this connection whose callers still wait (not abandoned); under the device's lock.</summary>
    private bool HasLiveRequests()
    {
        foreach (var entry in _inFlight.Values)
            if (entry.Request is not null) return true;
        return false;
    }

    /// <summary>Connects, negotiates, and starts the reader and writer.</summary>
    internal static async Task<NbdClientConnection> OpenAsync(NbdClientOptions options, CancellationToken ct)
    {
        EndPoint endPoint = options.Address.EndPoint;
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(options.ConnectTimeout);
            try
            {
                await socket.ConnectAsync(endPoint, timeout.Token);
                if (socket.ProtocolType == ProtocolType.Tcp) socket.NoDelay = true;
                using var handshakeStream = new NetworkStream(socket, ownsSocket: false);
                var info = await NbdClientHandshake.NegotiateAsync(handshakeStream, options.Address.ExportName, options.StructuredReplies, timeout.Token);
                return new NbdClientConnection(socket, info);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Connecting to {options.Address} took longer than {options.ConnectTimeout.TotalSeconds:0.###} s.");
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Hands the connection to its device (whose lock it shares from now on) and starts the reader and writer. Under the device's lock.</summary>
    internal void Start(NbdBlockDevice device)
    {
        _device = device;
        _gate = device.Gate;
        _writer = Task.Run(WriteLoopAsync);
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>Puts a request on the connection. Call under the device's lock, with the connection alive.</summary>
    internal void Enqueue(NbdClientRequest request, ulong cookie, long deadline)
    {
        request.Cookie = cookie;
        request.Connection = this;
        request.Attempts++;
        request.Deadline = deadline;
        _inFlight[cookie] = new InFlight { Request = request, Command = request.Command, Offset = request.Offset, Length = request.Length };
        _sendQueue.Writer.TryWrite(cookie);
    }

    /// <summary>
    /// Stops caring about a request (timed out or cancelled) unless its buffer is being used right
    /// now; a later reply is read and dropped. Call under the device's lock.
    /// </summary>
    internal bool TryAbandon(ulong cookie)
    {
        ref InFlight entry = ref CollectionsMarshal.GetValueRefOrNullRef(_inFlight, cookie);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) || entry.Busy) return false;
        entry.Request = null;
        return true;
    }

    /// <summary>
    /// Abandons every request past its deadline (under the device's lock) and says whether the
    /// server looks hung: a request is overdue and nothing arrived since it was sent.
    /// </summary>
    internal bool CollectOverdue(long now, List<NbdClientRequest> overdue)
    {
        bool hung = false;
        foreach (var (cookie, entry) in _inFlight)
        {
            if (entry.Request is not { Pending: true } request || entry.Busy || request.Deadline > now) continue;
            overdue.Add(request);
            if (LastReceive <= entry.SentAt) hung = true;
        }
        foreach (var request in overdue)
            TryAbandon(request.Cookie);
        return hung;
    }

    /// <summary>Takes every request still on the connection (under the device's lock, once it is dead).</summary>
    internal void DrainRequests(List<NbdClientRequest> into)
    {
        foreach (var entry in _inFlight.Values)
            if (entry.Request is { Pending: true } request && request.Connection == this)
                into.Add(request);
        _inFlight.Clear();
    }

    /// <summary>Ends the connection: the reader fails with <paramref name="reason"/> and reports it to the device.</summary>
    internal void Abort(Exception reason)
    {
        lock (_gate)
        {
            _abortReason ??= reason;
            Dead = true;
        }
        _sendQueue.Writer.TryComplete();
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _stream.Dispose();
    }

    /// <summary>Sends NBD_CMD_DISC once every request still awaited has been answered (or <paramref name="drainTime"/> passed), then closes.</summary>
    internal async Task CloseAsync(TimeSpan drainTime)
    {
        long until = Environment.TickCount64 + (long)drainTime.TotalMilliseconds;
        while (Environment.TickCount64 < until)
        {
            lock (_gate)
                if (Dead || !HasLiveRequests()) break;
            await Task.Delay(10);
        }
        _sendQueue.Writer.TryComplete();
        try { await _writer; } catch (Exception) { /* the reader reports failures */ }
        bool alive;
        lock (_gate) alive = !Dead;
        if (alive)
        {
            byte[] disc = new byte[NbdTransmissionCodec.RequestLength];
            NbdTransmissionCodec.TryWriteRequest(disc, new NbdRequest(NbdCommandFlags.None, NbdCommand.Disconnect, 0, 0, 0), out _);
            try { await _stream.WriteAsync(disc).AsTask().WaitAsync(TimeSpan.FromSeconds(1)); } catch (Exception) { /* closing anyway */ }
        }
        Abort(new ObjectDisposedException(nameof(NbdBlockDevice), "The NBD device was closed."));
        try { await _reader; } catch (Exception) { }
    }

    // ------------------------------------------------------------------ writer

    private async Task WriteLoopAsync()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(SendBufferSize);
        int used = 0;
        try
        {
            var queue = _sendQueue.Reader;
            while (await queue.WaitToReadAsync())
            {
                while (queue.TryRead(out ulong cookie))
                {
                    NbdRequest header;
                    ReadOnlyMemory<byte> payload = default;
                    lock (_gate)
                    {
                        if (Dead) return;
                        ref InFlight entry = ref CollectionsMarshal.GetValueRefOrNullRef(_inFlight, cookie);
                        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry)) continue;
                        if (entry.Request is null)
                        {
                            _inFlight.Remove(cookie);     // abandoned before it was sent: the server never hears of it
                            continue;
                        }
                        var request = entry.Request;
                        header = new NbdRequest(request.Flags, request.Command, cookie, request.Offset, request.Length);
                        if (request.Command == NbdCommand.Write) payload = request.WriteData;
                        entry.SentAt = Environment.TickCount64;
                        entry.Busy = payload.Length > CopyThreshold;
                    }
                    if (SendBufferSize - used < NbdTransmissionCodec.RequestLength + Math.Min(payload.Length, CopyThreshold + 1))
                    {
                        await _stream.WriteAsync(buffer.AsMemory(0, used));
                        used = 0;
                    }
                    NbdTransmissionCodec.TryWriteRequest(buffer.AsSpan(used), header, out int written);
                    used += written;
                    if (payload.Length <= CopyThreshold)
                    {
                        payload.Span.CopyTo(buffer.AsSpan(used));
                        used += payload.Length;
                    }
                    else
                    {
                        await _stream.WriteAsync(buffer.AsMemory(0, used));
                        used = 0;
                        await _stream.WriteAsync(payload);
                        lock (_gate)
                        {
                            ref InFlight entry = ref CollectionsMarshal.GetValueRefOrNullRef(_inFlight, cookie);
                            if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry)) entry.Busy = false;
                        }
                    }
                }
                if (used > 0)
                {
                    await _stream.WriteAsync(buffer.AsMemory(0, used));
                    used = 0;
                }
            }
        }
        catch (Exception e)
        {
            Abort(new IOException($"Sending to the NBD server failed: {e.Message}", e));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // ------------------------------------------------------------------ reader

    /// <summary>A protocol violation that concerns one request: that request fails, the others are replayed.</summary>
    private sealed class RequestProtocolException(ulong cookie, string message) : Exception(message)
    {
        internal ulong Cookie { get; } = cookie;
    }

    private async Task ReadLoopAsync()
    {
        byte[] header = new byte[NbdTransmissionCodec.ChunkHeaderLength];
        Exception reason;
        ulong? culprit = null;
        try
        {
            while (true)
            {
                int got = await _input.ReadAtLeastAsync(header.AsMemory(0, NbdTransmissionCodec.SimpleReplyLength), NbdTransmissionCodec.SimpleReplyLength, throwOnEndOfStream: false);
                if (got == 0) throw new IOException("The NBD server closed the connection.");
                if (got < NbdTransmissionCodec.SimpleReplyLength) throw new IOException("The NBD server closed the connection in the middle of a reply.");
                LastReceive = Environment.TickCount64;
                uint magic = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (magic == NbdMagic.SimpleReply)
                {
                    NbdTransmissionCodec.TryReadSimpleReply(header, out uint error, out ulong cookie);
                    await OnSimpleReplyAsync(error, cookie);
                }
                else if (magic == NbdMagic.StructuredReply && Info.StructuredReplies)
                {
                    await ReadExactlyAsync(header.AsMemory(NbdTransmissionCodec.SimpleReplyLength, NbdTransmissionCodec.ChunkHeaderLength - NbdTransmissionCodec.SimpleReplyLength));
                    NbdTransmissionCodec.TryReadChunkHeader(header, out var chunk);
                    await OnChunkAsync(chunk);
                }
                else if (magic == NbdMagic.StructuredReply)
                    throw new NbdProtocolException("The server sent a structured reply although structured replies were not negotiated.");
                else
                    throw new NbdProtocolException($"The server sent a reply with magic 0x{magic:X8}, which is neither a simple nor a structured reply: the stream is out of sync.");
            }
        }
        catch (RequestProtocolException e)
        {
            culprit = e.Cookie;
            reason = new NbdProtocolException(e.Message);
        }
        catch (Exception e)
        {
            reason = e;
        }
        Exception final;
        lock (_gate)
        {
            final = _abortReason ?? reason;
            _abortReason ??= reason;
            Dead = true;
        }
        _sendQueue.Writer.TryComplete();
        _stream.Dispose();
        try { await _writer; } catch (Exception) { }
        _device?.OnConnectionLost(this, final, culprit);
    }

    private async Task ReadExactlyAsync(Memory<byte> into)
    {
        try
        {
            await _input.ReadExactlyAsync(into);
        }
        catch (EndOfStreamException)
        {
            throw new IOException("The NBD server closed the connection in the middle of a reply.");
        }
        LastReceive = Environment.TickCount64;
    }

    private async Task DiscardAsync(long length)
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent((int)Math.Min(length, 64 * 1024));
        try
        {
            while (length > 0)
            {
                int n = (int)Math.Min(length, scratch.Length);
                await ReadExactlyAsync(scratch.AsMemory(0, n));
                length -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Looks the cookie up and marks the entry busy (its request's buffer is about to be used).</summary>
    private InFlight Claim(ulong cookie, string what)
    {
        lock (_gate)
        {
            ref InFlight entry = ref CollectionsMarshal.GetValueRefOrNullRef(_inFlight, cookie);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry))
                throw new NbdProtocolException($"The server sent {what} for cookie 0x{cookie:X16}, which is no request in flight.");
            entry.Busy = true;
            return entry;
        }
    }

    /// <summary>Releases the entry; when <paramref name="done"/>, removes it and completes its request.</summary>
    private void Release(ulong cookie, bool done, Exception? error)
    {
        lock (_gate)
        {
            ref InFlight entry = ref CollectionsMarshal.GetValueRefOrNullRef(_inFlight, cookie);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry)) return;
            entry.Busy = false;
            if (!done) return;
            var request = entry.Request;
            _inFlight.Remove(cookie);
            if (request is not null && request.Connection == this)
                request.TryComplete(error ?? request.PendingError);
        }
    }

    private async Task OnSimpleReplyAsync(uint error, ulong cookie)
    {
        InFlight entry = Claim(cookie, "a simple reply");
        if (error == 0 && entry.Command == NbdCommand.BlockStatus)
            throw new RequestProtocolException(cookie, "The server answered NBD_CMD_BLOCK_STATUS with a simple reply; it must use a structured reply.");
        if (error == 0 && entry.Command == NbdCommand.Read)
        {
            if (entry.Request is { } request) await ReadExactlyAsync(request.ReadBuffer[..(int)entry.Length]);
            else await DiscardAsync(entry.Length);
        }
        Release(cookie, done: true, error == 0 ? null : ServerError(entry, error, null));
    }

    private async Task OnChunkAsync(NbdChunkHeader chunk)
    {
        ulong cookie = chunk.Cookie;
        InFlight entry = Claim(cookie, $"a structured reply chunk of type {(ushort)chunk.Type}");
        NbdClientRequest? request = entry.Request;
        bool done = (chunk.Flags & NbdReplyFlags.Done) != 0;
        uint length = chunk.Length;
        switch (chunk.Type)
        {
            case NbdReplyChunkType.None:
                if (length != 0) throw new RequestProtocolException(cookie, $"The server sent NBD_REPLY_TYPE_NONE with {length} bytes of payload; it has none.");
                if (!done) throw new RequestProtocolException(cookie, "The server sent NBD_REPLY_TYPE_NONE without NBD_REPLY_FLAG_DONE.");
                break;
            case NbdReplyChunkType.OffsetData:
            {
                if (entry.Command != NbdCommand.Read)
                    throw new RequestProtocolException(cookie, $"The server sent NBD_REPLY_TYPE_OFFSET_DATA in reply to {entry.Command}.");
                if (length <= 8 || length - 8 > entry.Length)
                    throw new RequestProtocolException(cookie, $"The server sent an OFFSET_DATA chunk of {length} bytes for a READ of {entry.Length} bytes.");
                await ReadExactlyAsync(_chunkFields.AsMemory(0, 8));
                ulong offset = BinaryPrimitives.ReadUInt64BigEndian(_chunkFields);
                uint dataLength = length - 8;
                long at = CheckInside(cookie, entry, offset, dataLength, "OFFSET_DATA");
                if (request is not null)
                {
                    await ReadExactlyAsync(request.ReadBuffer.Slice((int)at, (int)dataLength));
                    lock (_gate) request.Received += dataLength;
                }
                else
                    await DiscardAsync(dataLength);
                break;
            }
            case NbdReplyChunkType.OffsetHole:
            {
                if (entry.Command != NbdCommand.Read)
                    throw new RequestProtocolException(cookie, $"The server sent NBD_REPLY_TYPE_OFFSET_HOLE in reply to {entry.Command}.");
                if (length != 12)
                    throw new RequestProtocolException(cookie, $"The server sent an OFFSET_HOLE chunk of {length} bytes; it has 12.");
                await ReadExactlyAsync(_chunkFields.AsMemory(0, 12));
                ulong offset = BinaryPrimitives.ReadUInt64BigEndian(_chunkFields);
                uint holeLength = BinaryPrimitives.ReadUInt32BigEndian(_chunkFields.AsSpan(8));
                if (holeLength == 0) throw new RequestProtocolException(cookie, "The server sent an OFFSET_HOLE chunk of length 0.");
                long at = CheckInside(cookie, entry, offset, holeLength, "OFFSET_HOLE");
                if (request is not null)
                {
                    request.ReadBuffer.Span.Slice((int)at, (int)holeLength).Clear();
                    lock (_gate) request.Received += holeLength;
                }
                break;
            }
            case NbdReplyChunkType.BlockStatus:
            {
                if (entry.Command != NbdCommand.BlockStatus)
                    throw new RequestProtocolException(cookie, $"The server sent NBD_REPLY_TYPE_BLOCK_STATUS in reply to {entry.Command}.");
                if (length < 12 || (length - 4) % 8 != 0 || length > MaxBlockStatusChunk)
                    throw new RequestProtocolException(cookie, $"The server sent a BLOCK_STATUS chunk of {length} bytes, which is not a context id and whole descriptors (or is too long).");
                byte[] payload = ArrayPool<byte>.Shared.Rent((int)length);
                try
                {
                    await ReadExactlyAsync(payload.AsMemory(0, (int)length));
                    uint context = BinaryPrimitives.ReadUInt32BigEndian(payload);
                    if (context != Info.AllocationContextId)
                        throw new RequestProtocolException(cookie, $"The server sent block status for metadata context {context}, which was not selected.");
                    if (request is not null)
                    {
                        if (request.ExtentCount != 0)
                            throw new RequestProtocolException(cookie, "The server sent block status for base:allocation twice in one reply.");
                        string? problem = NbdExtentDecoder.Decode(payload.AsSpan(4, (int)length - 4), entry.Length, request.BlockSize, (long)(entry.Offset / (ulong)request.BlockSize), request.Extents.Span, out int count);
                        if (problem is not null) throw new RequestProtocolException(cookie, problem);
                        lock (_gate) request.ExtentCount = count;
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(payload);
                }
                break;
            }
            default:
                if (((ushort)chunk.Type & 0x8000) == 0)
                    throw new RequestProtocolException(cookie, $"The server sent a structured reply chunk of unknown type {(ushort)chunk.Type}.");
                await OnErrorChunkAsync(chunk, entry, request);
                break;
        }
        if (done && request is not null)
        {
            lock (_gate)
            {
                if (request.PendingError is null && entry.Command == NbdCommand.Read && request.Received != entry.Length)
                    throw new RequestProtocolException(cookie, $"The server's reply to a READ of {entry.Length} bytes covered {request.Received} bytes.");
                if (request.PendingError is null && entry.Command == NbdCommand.BlockStatus && request.ExtentCount == 0)
                    throw new RequestProtocolException(cookie, "The server's reply to BLOCK_STATUS had no base:allocation extents.");
            }
        }
        Release(cookie, done, null);
    }

    private async Task OnErrorChunkAsync(NbdChunkHeader chunk, InFlight entry, NbdClientRequest? request)
    {
        ulong cookie = chunk.Cookie;
        uint length = chunk.Length;
        if (length < 6 || length > MaxErrorChunk)
            throw new RequestProtocolException(cookie, $"The server sent an error chunk of {length} bytes.");
        byte[] payload = new byte[length];
        await ReadExactlyAsync(payload);
        uint error = BinaryPrimitives.ReadUInt32BigEndian(payload);
        int messageLength = BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(4));
        if (error == 0)
            throw new RequestProtocolException(cookie, "The server sent an error chunk with error value 0.");
        if (messageLength > length - 6)
            throw new RequestProtocolException(cookie, $"The server's error chunk claims a message of {messageLength} bytes in {length - 6}.");
        string message = Encoding.UTF8.GetString(payload, 6, messageLength);
        if (request is not null)
            lock (_gate) request.PendingError ??= ServerError(entry, error, message);
    }

    private static long CheckInside(ulong cookie, in InFlight entry, ulong offset, uint length, string what)
    {
        if (offset < entry.Offset || offset - entry.Offset > entry.Length || length > entry.Length - (offset - entry.Offset))
            throw new RequestProtocolException(cookie,
                $"The server sent {what} for {length} bytes at offset {offset}, outside the READ of {entry.Length} bytes at {entry.Offset}.");
        return (long)(offset - entry.Offset);
    }

    private static BlockDeviceException ServerError(in InFlight entry, uint error, string? message)
    {
        string detail = string.IsNullOrEmpty(message) ? "" : $" ({message})";
        return new BlockDeviceException(NbdErrno.ToBlockError(error),
            $"NBD {entry.Command} of {entry.Length} bytes at offset {entry.Offset}: the server answered {NbdErrno.Name(error)}{detail}.");
    }
}
