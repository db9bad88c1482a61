using System.Buffers.Binary;
using System.Text;
using StorSharp.Nbd.Protocol;
using StorSharp.Nbd.Tests.Support;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Server;

/// <summary>The handshake and option haggling, driven byte by byte, including what clients get wrong.</summary>
public class NegotiationTests
{
    internal static async Task AssertStillServesAsync(TestNbdServer t)
    {
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.GoAsync();
        await c.SendRequestAsync(NbdCommand.Read, 77, 0, 4096);
        var (error, cookie, data) = await c.ReadReadReplyAsync(4096);
        Assert.Equal(0u, error);
        Assert.Equal(77ul, cookie);
        Assert.Equal(4096, data.Length);
    }

    [Fact]
    public async Task GreetingAdvertisesFixedNewstyleAndNoZeroes()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        Assert.Equal((ushort)(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes), await c.ReadGreetingAsync());
    }

    [Fact]
    public async Task UnknownClientFlagsCloseTheConnection()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using (var c = await RawNbdClient.ConnectAsync(t.TcpPort))
        {
            await c.ReadGreetingAsync();
            await c.SendClientFlagsAsync(0x3 | 0x100);
            Assert.True(await c.IsClosedByServerAsync());
        }
        await AssertStillServesAsync(t);
        Assert.Contains(t.Log, l => l.Contains("unknown client flags"));
    }

    [Fact]
    public async Task BadOptionMagicClosesTheConnection()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using (var c = await RawNbdClient.ConnectAsync(t.TcpPort))
        {
            await c.HandshakeAsync();
            await c.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
            Assert.True(await c.IsClosedByServerAsync());
        }
        await AssertStillServesAsync(t);
    }

    [Fact]
    public async Task OversizedOptionIsSkippedWithTooBigAndNegotiationContinues()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.HandshakeAsync();
        await c.SendOptionAsync(NbdOption.Go, new byte[1024 * 1024]); // over the 64 KiB limit
        var reply = await c.ReadOptionReplyAsync();
        Assert.Equal(NbdOption.Go, reply.Option);
        Assert.Equal(NbdOptionReplyType.ErrTooBig, reply.Type);
        await c.SendOptionAsync(NbdOption.StructuredReply, default);
        Assert.Equal(NbdOptionReplyType.Ack, (await c.ReadOptionReplyAsync()).Type);
    }

    [Theory]
    [InlineData(99u)]
    [InlineData((uint)NbdOption.StartTls)]
    [InlineData((uint)NbdOption.ExtendedHeaders)]
    [InlineData((uint)NbdOption.PeekExport)]
    public async Task UnsupportedOptionsGetErrUnsupAndNegotiationContinues(uint option)
    {
        await using var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.HandshakeAsync();
        await c.SendOptionAsync((NbdOption)option, new byte[] { 1, 2, 3 }.AsSpan(0, option == 99 ? 3 : 0));
        var reply = await c.ReadOptionReplyAsync();
        Assert.Equal((NbdOption)option, reply.Option);
        Assert.Equal(NbdOptionReplyType.ErrUnsup, reply.Type);
        await c.SendOptionAsync(NbdOption.List, default);
        var server = await c.ReadOptionReplyAsync();
        Assert.Equal(NbdOptionReplyType.Server, server.Type);
        Assert.Equal("disk0", Encoding.UTF8.GetString(server.Data, 4, (int)BinaryPrimitives.ReadUInt32BigEndian(server.Data)));
        Assert.Equal(NbdOptionReplyType.Ack, (await c.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task InfoForUnknownExportIsErrUnknown()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.HandshakeAsync();
        await c.SendOptionAsync(NbdOption.Info, RawNbdClient.InfoRequest("nope"));
        Assert.Equal(NbdOptionReplyType.ErrUnknown, (await c.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task InfoWithInconsistentLengthsIsErrInvalid()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.HandshakeAsync();
        var bad = RawNbdClient.InfoRequest("disk0", NbdInfoType.Name);
        BinaryPrimitives.WriteUInt16BigEndian(bad.AsSpan(4 + 5), 7); // claims 7 info requests, carries 1
        await c.SendOptionAsync(NbdOption.Info, bad);
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await c.ReadOptionReplyAsync()).Type);
        await c.SendOptionAsync(NbdOption.List, new byte[] { 0 });
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await c.ReadOptionReplyAsync()).Type);
        await c.SendOptionAsync(NbdOption.StructuredReply, new byte[] { 0 });
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await c.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task InfoRepliesWithExportNameDescriptionAndBlockSize()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.HandshakeAsync();
        await c.SendOptionAsync(NbdOption.Info, RawNbdClient.InfoRequest("disk0", NbdInfoType.Name, NbdInfoType.Description, NbdInfoType.BlockSize));
        var infos = new Dictionary<NbdInfoType, byte[]>();
        while (true)
        {
            var (_, type, data) = await c.ReadOptionReplyAsync();
            if (type == NbdOptionReplyType.Ack) break;
            Assert.Equal(NbdOptionReplyType.Info, type);
            infos[(NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(data)] = data[2..];
        }
        Assert.Equal(16ul * 1024 * 1024, BinaryPrimitives.ReadUInt64BigEndian(infos[NbdInfoType.Export]));
        var flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(infos[NbdInfoType.Export].AsSpan(8));
        Assert.True(flags.HasFlag(NbdTransmissionFlags.HasFlags));
        Assert.False(flags.HasFlag(NbdTransmissionFlags.SendDf)); // no structured replies negotiated
        Assert.Equal("disk0", Encoding.UTF8.GetString(infos[NbdInfoType.Name]));
        Assert.Equal("memory disk 0", Encoding.UTF8.GetString(infos[NbdInfoType.Description]));
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32BigEndian(infos[NbdInfoType.BlockSize]));
        Assert.Equal(32u * 1024 * 1024, BinaryPrimitives.ReadUInt32BigEndian(infos[NbdInfoType.BlockSize].AsSpan(8)));
        // Still negotiating after INFO.
        await c.SendOptionAsync(NbdOption.StructuredReply, default);
        Assert.Equal(NbdOptionReplyType.Ack, (await c.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task SetMetaContextNeedsStructuredReplies()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.HandshakeAsync();
        await c.SendOptionAsync(NbdOption.SetMetaContext, RawNbdClient.MetaContextRequest("disk0", "base:allocation"));
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await c.ReadOptionReplyAsync()).Type);
        // LIST is fine without, and "base:" lists the namespace.
        await c.SendOptionAsync(NbdOption.ListMetaContext, RawNbdClient.MetaContextRequest("disk0", "base:", "qemu:dirty-bitmap:x"));
        var ctx = await c.ReadOptionReplyAsync();
        Assert.Equal(NbdOptionReplyType.MetaContext, ctx.Type);
        Assert.Equal("base:allocation", Encoding.UTF8.GetString(ctx.Data, 4, ctx.Data.Length - 4));
        Assert.Equal(NbdOptionReplyType.Ack, (await c.ReadOptionReplyAsync()).Type);
        await c.SendOptionAsync(NbdOption.ListMetaContext, RawNbdClient.MetaContextRequest("nope"));
        Assert.Equal(NbdOptionReplyType.ErrUnknown, (await c.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task ExportNameWithUnknownNameClosesTheConnection()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using (var c = await RawNbdClient.ConnectAsync(t.TcpPort))
        {
            await c.HandshakeAsync();
            await c.SendOptionAsync(NbdOption.ExportName, "nope"u8);
            Assert.True(await c.IsClosedByServerAsync());
        }
        await AssertStillServesAsync(t);
    }

    [Theory]
    [InlineData(3u, 10)]
    [InlineData(1u, 134)]
    public async Task ExportNameRepliesWithSizeFlagsAndZeroesUnlessNoZeroes(uint clientFlags, int replyLength)
    {
        await using var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.HandshakeAsync(clientFlags);
        await c.SendOptionAsync(NbdOption.ExportName, ""u8); // empty name: the default export
        var reply = await c.ReadExactAsync(replyLength);
        Assert.Equal(16ul * 1024 * 1024, BinaryPrimitives.ReadUInt64BigEndian(reply));
        Assert.True(reply.AsSpan(10).IndexOfAnyExcept((byte)0) < 0);
        await c.SendRequestAsync(NbdCommand.Read, 5, 0, 512);
        var (error, cookie) = await c.ReadSimpleReplyAsync();
        Assert.Equal((0u, 5ul), (error, cookie));
        Assert.Equal(512, (await c.ReadExactAsync(512)).Length);
    }

    [Fact]
    public async Task AbortIsAcknowledgedThenClosed()
    {
        await using var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.HandshakeAsync();
        await c.SendOptionAsync(NbdOption.Abort, default);
        var reply = await c.ReadOptionReplyAsync();
        Assert.Equal((NbdOption.Abort, NbdOptionReplyType.Ack), (reply.Option, reply.Type));
        Assert.True(await c.IsClosedByServerAsync());
    }

    [Fact]
    public async Task MetaContextForAnotherExportDoesNotCarryOver()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(1024 * 1024), new MemoryDisk(1024 * 1024)]);
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.HandshakeAsync();
        await c.SendOptionAsync(NbdOption.StructuredReply, default);
        await c.ReadOptionReplyAsync();
        await c.SendOptionAsync(NbdOption.SetMetaContext, RawNbdClient.MetaContextRequest("disk1", "base:allocation"));
        Assert.Equal(NbdOptionReplyType.MetaContext, (await c.ReadOptionReplyAsync()).Type);
        await c.ReadOptionReplyAsync();
        await c.SendOptionAsync(NbdOption.Go, RawNbdClient.InfoRequest("disk0"));
        while ((await c.ReadOptionReplyAsync()).Type != NbdOptionReplyType.Ack) { }
        await c.SendRequestAsync(NbdCommand.BlockStatus, 1, 0, 4096);
        var (header, payload) = await c.ReadChunkAsync();
        Assert.Equal(NbdReplyChunkType.Error, header.Type);
        Assert.Equal(22u, BinaryPrimitives.ReadUInt32BigEndian(payload)); // EINVAL
    }
}
