using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StorSharp.Nbd.Client;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Tests.Client.Support;

/// <summary>
/// An in-process NBD server on 127.0.0.1 whose behaviour a test scripts: what the handshake
/// offers, and (per connection) how transmission goes. By default it serves an in-memory disk
/// correctly; tests replace <see cref="Transmission"/> to misbehave.
/// </summary>
public sealed class FakeNbdServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<FakeSession> _sessions = [];
    private readonly Task _accept;
    private int _connections;

    public FakeNbdServer(long size = 1 << 20, int port = 0)
    {
        Data = new byte[size];
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        _accept = Task.Run(AcceptLoopAsync);
    }

    public byte[] Data { get; set; }
    public ulong? AdvertisedSize { get; set; }
    public NbdTransmissionFlags Flags { get; set; } = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
        | NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes | NbdTransmissionFlags.SendFastZero | NbdTransmissionFlags.CanMultiConn;
    public bool Structured { get; set; } = true;
    public bool MetaContext { get; set; } = true;
    public bool SupportsGo { get; set; } = true;
    public bool SendBlockSize { get; set; } = true;
    public uint MinBlock { get; set; } = 1;
    public uint PreferredBlock { get; set; } = 4096;
    public uint MaxPayload { get; set; } = 32 * 1024 * 1024;
    public const uint ContextId = 7;

    /// <summary>Runs once per connection after the handshake; <see cref="ServeMemoryAsync"/> by default.</summary>
    public Func<FakeSession, Task> Transmission { get; set; } = s => s.ServeMemoryAsync();

    /// <summary>Every request received, in order, as "Read 0 4096 Fua".</summary>
    public ConcurrentQueue<NbdRequest> Requests { get; } = new();

    public int Connections => Volatile.Read(ref _connections);

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public NbdServerAddress Address => new(new IPEndPoint(IPAddress.Loopback, Port), "fake");

    /// <summary>Closes every open connection (the listener stays).</summary>
    public void DropConnections()
    {
        foreach (var s in _sessions) s.Close();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (Exception) { return; }
            Interlocked.Increment(ref _connections);
            var session = new FakeSession(this, socket);
            _sessions.Add(session);
            _ = Task.Run(async () =>
            {
                try
                {
                    if (await session.HandshakeAsync()) await Transmission(session);
                }
                catch (Exception) { }
                finally { session.Close(); }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        DropConnections();
        try { await _accept; } catch (Exception) { }
    }
}

/// <summary>One connection to the fake server, with helpers to read requests and write replies by hand.</summary>
public sealed class FakeSession(FakeNbdServer server, Socket socket)
{
    private readonly NetworkStream _stream = new(socket, ownsSocket: true);
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    public FakeNbdServer Server => server;
    public bool StructuredNegotiated { get; private set; }

    public void Close()
    {
        try { socket.Shutdown(SocketShutdown.Both); } catch (Exception) { }
        _stream.Dispose();
    }

    internal async Task<bool> HandshakeAsync()
    {
        byte[] greeting = new byte[NbdHandshake.ServerGreetingLength];
        NbdHandshake.TryWriteServerGreeting(greeting, NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes, out _);
        await _stream.WriteAsync(greeting);
        byte[] flags = new byte[4];
        await _stream.ReadExactlyAsync(flags);
        bool noZeroes = (BinaryPrimitives.ReadUInt32BigEndian(flags) & 2) != 0;
        while (true)
        {
            byte[] header = new byte[16];
            await _stream.ReadExactlyAsync(header);
            var option = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
            byte[] data = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12))];
            await _stream.ReadExactlyAsync(data);
            ulong size = server.AdvertisedSize ?? (ulong)server.Data.Length;
            switch (option)
            {
                case NbdOption.StructuredReply when server.Structured:
                    StructuredNegotiated = true;
                    await ReplyAsync(option, NbdOptionReplyType.Ack);
                    break;
                case NbdOption.SetMetaContext when server.MetaContext && StructuredNegotiated:
                {
                    byte[] reply = new byte[NbdOptionCodec.ReplyHeaderLength + 4 + 15];
                    NbdOptionCodec.TryWriteMetaContext(reply, option, FakeNbdServer.ContextId, "base:allocation", out int n);
                    await _stream.WriteAsync(reply.AsMemory(0, n));
                    await ReplyAsync(option, NbdOptionReplyType.Ack);
                    break;
                }
                case NbdOption.Go when server.SupportsGo:
                {
                    string name = Encoding.UTF8.GetString(data, 4, (int)BinaryPrimitives.ReadUInt32BigEndian(data));
                    if (name != "fake")
                    {
                        await ReplyAsync(option, NbdOptionReplyType.ErrUnknown);
                        break;
                    }
                    byte[] reply = new byte[64];
                    NbdOptionCodec.TryWriteInfoExport(reply, option, size, server.Flags, out int n);
                    await _stream.WriteAsync(reply.AsMemory(0, n));
                    if (server.SendBlockSize)
                    {
                        NbdOptionCodec.TryWriteInfoBlockSize(reply, option, server.MinBlock, server.PreferredBlock, server.MaxPayload, out n);
                        await _stream.WriteAsync(reply.AsMemory(0, n));
                    }
                    await ReplyAsync(option, NbdOptionReplyType.Ack);
                    return true;
                }
                case NbdOption.ExportName:
                {
                    byte[] reply = new byte[10 + (noZeroes ? 0 : 124)];
                    BinaryPrimitives.WriteUInt64BigEndian(reply, size);
                    BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(8), (ushort)server.Flags);
                    await _stream.WriteAsync(reply);
                    return true;
                }
                case NbdOption.Abort:
                    await ReplyAsync(option, NbdOptionReplyType.Ack);
                    return false;
                default:
                    await ReplyAsync(option, NbdOptionReplyType.ErrUnsup);
                    break;
            }
        }
    }

    private async Task ReplyAsync(NbdOption option, NbdOptionReplyType type)
    {
        byte[] reply = new byte[NbdOptionCodec.ReplyHeaderLength];
        NbdOptionCodec.TryWriteReplyHeader(reply, option, type, 0, out _);
        await _stream.WriteAsync(reply);
    }

    /// <summary>Reads the next request and its WRITE payload; null when the client closed or sent DISC.</summary>
    public async Task<(NbdRequest Request, byte[] Payload)?> ReadRequestAsync()
    {
        byte[] header = new byte[NbdTransmissionCodec.RequestLength];
        try { await _stream.ReadExactlyAsync(header); }
        catch (Exception) { return null; }
        NbdTransmissionCodec.TryReadRequest(header.AsSpan(), out var request);
        server.Requests.Enqueue(request);
        if (request.Command == NbdCommand.Disconnect) return null;
        byte[] payload = request.Command == NbdCommand.Write ? new byte[request.Length] : [];
        await _stream.ReadExactlyAsync(payload);
        return (request, payload);
    }

    public async Task WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        await _writeLock.WaitAsync();
        try { await _stream.WriteAsync(bytes); }
        finally { _writeLock.Release(); }
    }

    public Task SimpleReplyAsync(ulong cookie, uint error = 0, ReadOnlyMemory<byte> data = default)
    {
        byte[] bytes = new byte[NbdTransmissionCodec.SimpleReplyLength + data.Length];
        NbdTransmissionCodec.TryWriteSimpleReply(bytes, error, cookie, out _);
        data.CopyTo(bytes.AsMemory(NbdTransmissionCodec.SimpleReplyLength));
        return WriteAsync(bytes);
    }

    public Task OffsetDataAsync(ulong cookie, ulong offset, ReadOnlyMemory<byte> data, bool done)
    {
        byte[] bytes = new byte[NbdTransmissionCodec.OffsetDataHeaderLength + data.Length];
        NbdTransmissionCodec.TryWriteOffsetDataHeader(bytes, done ? NbdReplyFlags.Done : 0, cookie, offset, (uint)data.Length, out _);
        data.CopyTo(bytes.AsMemory(NbdTransmissionCodec.OffsetDataHeaderLength));
        return WriteAsync(bytes);
    }

    public Task OffsetHoleAsync(ulong cookie, ulong offset, uint length, bool done)
    {
        byte[] bytes = new byte[32];
        NbdTransmissionCodec.TryWriteOffsetHole(bytes, done ? NbdReplyFlags.Done : 0, cookie, offset, length, out int n);
        return WriteAsync(bytes.AsMemory(0, n));
    }

    public Task ErrorChunkAsync(ulong cookie, uint error, string message, bool done)
    {
        byte[] text = Encoding.UTF8.GetBytes(message);
        byte[] bytes = new byte[NbdTransmissionCodec.ErrorChunkLength + text.Length];
        NbdTransmissionCodec.TryWriteErrorChunk(bytes, done ? NbdReplyFlags.Done : 0, cookie, error, text, out _);
        return WriteAsync(bytes);
    }

    public Task NoneChunkAsync(ulong cookie)
    {
        byte[] bytes = new byte[NbdTransmissionCodec.ChunkHeaderLength];
        NbdTransmissionCodec.TryWriteNoneChunk(bytes, NbdReplyFlags.Done, cookie, out _);
        return WriteAsync(bytes);
    }

    public Task BlockStatusAsync(ulong cookie, uint contextId, params (uint Length, NbdAllocationState State)[] descriptors)
    {
        byte[] bytes = new byte[NbdTransmissionCodec.BlockStatusHeaderLength + 8 * descriptors.Length];
        NbdTransmissionCodec.TryWriteBlockStatusHeader(bytes, NbdReplyFlags.Done, cookie, contextId, descriptors.Length, out int at);
        foreach (var (length, state) in descriptors)
        {
            NbdTransmissionCodec.TryWriteBlockDescriptor(bytes.AsSpan(at), length, state, out int n);
            at += n;
        }
        return WriteAsync(bytes);
    }

    /// <summary>Answers one request as a correct server over <see cref="FakeNbdServer.Data"/>.</summary>
    public async Task AnswerAsync(NbdRequest request, byte[] payload)
    {
        byte[] data = server.Data;
        switch (request.Command)
        {
            case NbdCommand.Read:
                var slice = data.AsMemory((int)request.Offset, (int)request.Length);
                if (StructuredNegotiated) await OffsetDataAsync(request.Cookie, request.Offset, slice, done: true);
                else await SimpleReplyAsync(request.Cookie, 0, slice);
                break;
            case NbdCommand.Write:
                payload.CopyTo(data, (int)request.Offset);
                await SimpleReplyAsync(request.Cookie);
                break;
            case NbdCommand.Trim:
            case NbdCommand.WriteZeroes:
                Array.Clear(data, (int)request.Offset, (int)request.Length);
                await SimpleReplyAsync(request.Cookie);
                break;
            case NbdCommand.BlockStatus:
                await BlockStatusAsync(request.Cookie, FakeNbdServer.ContextId, (request.Length, NbdAllocationState.Data));
                break;
            default:
                await SimpleReplyAsync(request.Cookie);
                break;
        }
    }

    /// <summary>Serves requests correctly, one at a time, until the client disconnects.</summary>
    public async Task ServeMemoryAsync()
    {
        while (await ReadRequestAsync() is { } r)
            await AnswerAsync(r.Request, r.Payload);
    }
}
