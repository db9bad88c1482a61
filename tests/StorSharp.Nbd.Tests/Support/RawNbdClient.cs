using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Tests.Support;

/// <summary>A byte-level NBD client for malformed-input tests: it sends exactly what it is told.</summary>
public sealed class RawNbdClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawNbdClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public static async Task<RawNbdClient> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return new RawNbdClient(socket);
    }

    public bool Structured { get; private set; }

    public async Task WriteAsync(ReadOnlyMemory<byte> data)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _stream.WriteAsync(data, cts.Token);
    }

    public async Task<byte[]> ReadExactAsync(int count)
    {
        var buffer = new byte[count];
        using var cts = new CancellationTokenSource(Timeout);
        await _stream.ReadExactlyAsync(buffer, cts.Token);
        return buffer;
    }

    /// <summary>True when the server closed the connection (a read returns end of stream, or the connection resets) within the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan? within = null)
    {
        using var cts = new CancellationTokenSource(within ?? Timeout);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(buffer, cts.Token);
                if (n == 0) return true;
            }
        }
        catch (OperationCanceledException) { return false; }
        catch (IOException) { return true; }
    }

    public async Task<ushort> ReadGreetingAsync()
    {
        var g = await ReadExactAsync(NbdHandshake.ServerGreetingLength);
        Assert.Equal(NbdMagic.NbdMagicValue, BinaryPrimitives.ReadUInt64BigEndian(g));
        Assert.Equal(NbdMagic.IHaveOpt, BinaryPrimitives.ReadUInt64BigEndian(g.AsSpan(8)));
        return BinaryPrimitives.ReadUInt16BigEndian(g.AsSpan(16));
    }

    public Task SendClientFlagsAsync(uint flags)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, flags);
        return WriteAsync(b);
    }

    /// <summary>Greeting plus client flags FIXED_NEWSTYLE | NO_ZEROES.</summary>
    public async Task HandshakeAsync(uint clientFlags = 3)
    {
        await ReadGreetingAsync();
        await SendClientFlagsAsync(clientFlags);
    }

    public Task SendOptionAsync(NbdOption option, ReadOnlySpan<byte> data)
    {
        var b = new byte[NbdOptionCodec.OptionHeaderLength + data.Length];
        NbdOptionCodec.TryWriteOption(b, option, data, out _);
        return WriteAsync(b);
    }

    public async Task<(NbdOption Option, NbdOptionReplyType Type, byte[] Data)> ReadOptionReplyAsync()
    {
        var h = await ReadExactAsync(NbdOptionCodec.ReplyHeaderLength);
        Assert.Equal(NbdMagic.OptionReply, BinaryPrimitives.ReadUInt64BigEndian(h));
        var option = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(8));
        var type = (NbdOptionReplyType)BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(12));
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16));
        return (option, type, length == 0 ? [] : await ReadExactAsync(length));
    }

    public static byte[] InfoRequest(string name, params NbdInfoType[] requests)
    {
        var n = Encoding.UTF8.GetBytes(name);
        var b = new byte[4 + n.Length + 2 + 2 * requests.Length];
        BinaryPrimitives.WriteUInt32BigEndian(b, (uint)n.Length);
        n.CopyTo(b, 4);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4 + n.Length), (ushort)requests.Length);
        for (int i = 0; i < requests.Length; i++) BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6 + n.Length + 2 * i), (ushort)requests[i]);
        return b;
    }

    public static byte[] MetaContextRequest(string name, params string[] queries)
    {
        var ms = new MemoryStream();
        void U32(uint v) { var t = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(t, v); ms.Write(t); }
        var n = Encoding.UTF8.GetBytes(name);
        U32((uint)n.Length); ms.Write(n);
        U32((uint)queries.Length);
        foreach (var q in queries) { var qb = Encoding.UTF8.GetBytes(q); U32((uint)qb.Length); ms.Write(qb); }
        return ms.ToArray();
    }

    /// <summary>Negotiates up to transmission with NBD_OPT_GO; returns size and flags.</summary>
    public async Task<(ulong Size, NbdTransmissionFlags Flags)> GoAsync(string export = "disk0", bool structured = true, bool baseAllocation = true)
    {
        await HandshakeAsync();
        if (structured)
        {
            await SendOptionAsync(NbdOption.StructuredReply, default);
            Assert.Equal(NbdOptionReplyType.Ack, (await ReadOptionReplyAsync()).Type);
            Structured = true;
            if (baseAllocation)
            {
                await SendOptionAsync(NbdOption.SetMetaContext, MetaContextRequest(export, "base:allocation"));
                var ctx = await ReadOptionReplyAsync();
                Assert.Equal(NbdOptionReplyType.MetaContext, ctx.Type);
                Assert.Equal(NbdOptionReplyType.Ack, (await ReadOptionReplyAsync()).Type);
            }
        }
        await SendOptionAsync(NbdOption.Go, InfoRequest(export, NbdInfoType.BlockSize));
        ulong size = 0;
        NbdTransmissionFlags flags = 0;
        while (true)
        {
            var (_, type, data) = await ReadOptionReplyAsync();
            if (type == NbdOptionReplyType.Ack) break;
            Assert.Equal(NbdOptionReplyType.Info, type);
            if (BinaryPrimitives.ReadUInt16BigEndian(data) == (ushort)NbdInfoType.Export)
            {
                size = BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2));
                flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10));
            }
        }
        return (size, flags);
    }

    public Task SendRequestAsync(NbdCommand command, ulong cookie, ulong offset, uint length, NbdCommandFlags flags = 0, ReadOnlySpan<byte> payload = default)
    {
        var b = new byte[NbdTransmissionCodec.RequestLength + payload.Length];
        NbdTransmissionCodec.TryWriteRequest(b, new NbdRequest(flags, command, cookie, offset, length), out _);
        payload.CopyTo(b.AsSpan(NbdTransmissionCodec.RequestLength));
        return WriteAsync(b);
    }

    public async Task<(uint Error, ulong Cookie)> ReadSimpleReplyAsync()
    {
        var h = await ReadExactAsync(NbdTransmissionCodec.SimpleReplyLength);
        Assert.True(NbdTransmissionCodec.TryReadSimpleReply(h, out uint error, out ulong cookie), "not a simple reply");
        return (error, cookie);
    }

    public async Task<(NbdChunkHeader Header, byte[] Payload)> ReadChunkAsync()
    {
        var h = await ReadExactAsync(NbdTransmissionCodec.ChunkHeaderLength);
        Assert.True(NbdTransmissionCodec.TryReadChunkHeader(h, out var header), "not a structured chunk");
        return (header, header.Length == 0 ? [] : await ReadExactAsync((int)header.Length));
    }

    /// <summary>Reads one READ reply of either kind: (error, cookie, data).</summary>
    public async Task<(uint Error, ulong Cookie, byte[] Data)> ReadReadReplyAsync(uint length)
    {
        if (!Structured)
        {
            var (error, cookie) = await ReadSimpleReplyAsync();
            return (error, cookie, error == 0 ? await ReadExactAsync((int)length) : []);
        }
        var (header, payload) = await ReadChunkAsync();
        Assert.True((header.Flags & NbdReplyFlags.Done) != 0);
        return header.Type switch
        {
            NbdReplyChunkType.OffsetData => (0u, header.Cookie, payload[8..]),
            NbdReplyChunkType.Error => (BinaryPrimitives.ReadUInt32BigEndian(payload), header.Cookie, []),
            _ => throw new InvalidDataException($"unexpected chunk {header.Type}"),
        };
    }

    public void Abort() => _socket.Close(0);

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
    }
}
