using System.Buffers;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Tests.Protocol;

/// <summary>Byte-exact tests of the pure codecs against proto.md's layouts.</summary>
public class CodecTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int chunk)
    {
        Segment? first = null, last = null;
        for (int i = 0; i < bytes.Length; i += chunk)
        {
            var s = new Segment(bytes.AsMemory(i, Math.Min(chunk, bytes.Length - i)), last);
            first ??= s;
            last = s;
        }
        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null) { RunningIndex = previous.RunningIndex + previous.Memory.Length; previous.Next = this; }
        }
    }

    [Fact]
    public void WireValuesAreStable()
    {
        Assert.Equal(0x4e42444d41474943ul, NbdMagic.NbdMagicValue);
        Assert.Equal(0x49484156454F5054ul, NbdMagic.IHaveOpt);
        Assert.Equal(0x3e889045565a9ul, NbdMagic.OptionReply);
        Assert.Equal(0x25609513u, NbdMagic.Request);
        Assert.Equal(0x67446698u, NbdMagic.SimpleReply);
        Assert.Equal(0x668e33efu, NbdMagic.StructuredReply);
        Assert.Equal([1u, 2, 3, 5, 6, 7, 8, 9, 10, 11], new[] { NbdOption.ExportName, NbdOption.Abort, NbdOption.List, NbdOption.StartTls, NbdOption.Info, NbdOption.Go, NbdOption.StructuredReply, NbdOption.ListMetaContext, NbdOption.SetMetaContext, NbdOption.ExtendedHeaders }.Select(o => (uint)o));
        Assert.Equal([1u, 2, 3, 4, 0x80000001, 0x80000002, 0x80000003, 0x80000004, 0x80000005, 0x80000006, 0x80000007, 0x80000008, 0x80000009],
            new[] { NbdOptionReplyType.Ack, NbdOptionReplyType.Server, NbdOptionReplyType.Info, NbdOptionReplyType.MetaContext, NbdOptionReplyType.ErrUnsup, NbdOptionReplyType.ErrPolicy, NbdOptionReplyType.ErrInvalid, NbdOptionReplyType.ErrPlatform, NbdOptionReplyType.ErrTlsReqd, NbdOptionReplyType.ErrUnknown, NbdOptionReplyType.ErrShutdown, NbdOptionReplyType.ErrBlockSizeReqd, NbdOptionReplyType.ErrTooBig }.Select(t => (uint)t));
        Assert.Equal([1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 2048], new[] { NbdTransmissionFlags.HasFlags, NbdTransmissionFlags.ReadOnly, NbdTransmissionFlags.SendFlush, NbdTransmissionFlags.SendFua, NbdTransmissionFlags.Rotational, NbdTransmissionFlags.SendTrim, NbdTransmissionFlags.SendWriteZeroes, NbdTransmissionFlags.SendDf, NbdTransmissionFlags.CanMultiConn, NbdTransmissionFlags.SendCache, NbdTransmissionFlags.SendFastZero }.Select(f => (int)f));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], new[] { NbdCommand.Read, NbdCommand.Write, NbdCommand.Disconnect, NbdCommand.Flush, NbdCommand.Trim, NbdCommand.Cache, NbdCommand.WriteZeroes, NbdCommand.BlockStatus }.Select(c => (int)c));
        Assert.Equal([1, 2, 4, 8, 16], new[] { NbdCommandFlags.Fua, NbdCommandFlags.NoHole, NbdCommandFlags.DontFragment, NbdCommandFlags.ReqOne, NbdCommandFlags.FastZero }.Select(f => (int)f));
        Assert.Equal([0, 1, 2, 5, 32769, 32770], new[] { NbdReplyChunkType.None, NbdReplyChunkType.OffsetData, NbdReplyChunkType.OffsetHole, NbdReplyChunkType.BlockStatus, NbdReplyChunkType.Error, NbdReplyChunkType.ErrorOffset }.Select(t => (int)t));
        Assert.Equal([0, 1, 2, 3], new[] { NbdInfoType.Export, NbdInfoType.Name, NbdInfoType.Description, NbdInfoType.BlockSize }.Select(t => (int)t));
        Assert.Equal([1u, 2u], new[] { NbdAllocationState.Hole, NbdAllocationState.Zero }.Select(s => (uint)s));
    }

    [Fact]
    public void ServerGreeting()
    {
        var b = new byte[18];
        Assert.True(NbdHandshake.TryWriteServerGreeting(b, NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes, out int w));
        Assert.Equal(18, w);
        Assert.Equal(Hex("4e42444d41474943 49484156454F5054 0003"), b);
        Assert.False(NbdHandshake.TryWriteServerGreeting(new byte[17], NbdHandshakeFlags.None, out _));
    }

    [Fact]
    public void ClientFlagsAcrossSegments()
    {
        Assert.False(NbdHandshake.TryReadClientFlags(new ReadOnlySequence<byte>(Hex("000000")), out _));
        Assert.True(NbdHandshake.TryReadClientFlags(Segmented(Hex("00000003"), 1), out var flags));
        Assert.Equal(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes, flags);
    }

    [Fact]
    public void ExportNameReply()
    {
        var b = new byte[134];
        Assert.True(NbdHandshake.TryWriteExportNameReply(b, 0x100000, NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush, noZeroes: true, out int w));
        Assert.Equal(10, w);
        Assert.Equal(Hex("0000000000100000 0005"), b[..10]);
        Assert.True(NbdHandshake.TryWriteExportNameReply(b, 1, NbdTransmissionFlags.HasFlags, noZeroes: false, out w));
        Assert.Equal(134, w);
    }

    [Fact]
    public void OptionReadingCompleteAcrossSegments()
    {
        var bytes = Hex("49484156454F5054 00000007 00000004 61626364 FF");
        var status = NbdOptionCodec.TryReadOption(Segmented(bytes, 3), 4096, out var option, out long consumed);
        Assert.Equal(NbdOptionReadStatus.Complete, status);
        Assert.Equal(NbdOption.Go, option.Option);
        Assert.Equal(4u, option.Length);
        Assert.Equal("abcd"u8.ToArray(), option.Data.ToArray());
        Assert.Equal(20, consumed);
    }

    [Fact]
    public void OptionReadingRejections()
    {
        Assert.Equal(NbdOptionReadStatus.NeedMoreData, NbdOptionCodec.TryReadOption(new ReadOnlySequence<byte>(Hex("49484156454F5054 000000")), 4096, out _, out _));
        Assert.Equal(NbdOptionReadStatus.NeedMoreData, NbdOptionCodec.TryReadOption(new ReadOnlySequence<byte>(Hex("49484156454F5054 00000007 00000004 6162")), 4096, out _, out long c0));
        Assert.Equal(0, c0);
        Assert.Equal(NbdOptionReadStatus.BadMagic, NbdOptionCodec.TryReadOption(new ReadOnlySequence<byte>(Hex("49484156454F5055 00000007 00000000")), 4096, out _, out _));
        var status = NbdOptionCodec.TryReadOption(new ReadOnlySequence<byte>(Hex("49484156454F5054 00000007 FFFFFFFF")), 4096, out var big, out long consumed);
        Assert.Equal(NbdOptionReadStatus.TooLarge, status);
        Assert.Equal(16, consumed);
        Assert.Equal(0xFFFFFFFFu, big.Length);
    }

    [Fact]
    public void InfoRequestParsing()
    {
        Assert.Equal(NbdOptionDataStatus.Valid, NbdOptionCodec.TryParseInfoRequest(Hex("00000002 6431 0002 0001 0003"), out var name, out var requests));
        Assert.Equal("d1"u8.ToArray(), name.ToArray());
        Assert.Equal(NbdInfoType.Name, NbdOptionCodec.GetInfoRequest(requests, 0));
        Assert.Equal(NbdInfoType.BlockSize, NbdOptionCodec.GetInfoRequest(requests, 1));
        Assert.Equal(NbdOptionDataStatus.Invalid, NbdOptionCodec.TryParseInfoRequest(Hex("00000002 6431 0002 0001"), out _, out _));
        Assert.Equal(NbdOptionDataStatus.Invalid, NbdOptionCodec.TryParseInfoRequest(Hex("00000009 6431 0000"), out _, out _));
        Assert.Equal(NbdOptionDataStatus.Invalid, NbdOptionCodec.TryParseInfoRequest(Hex("0000"), out _, out _));
        var tooLong = new byte[4 + 5000 + 2];
        tooLong[2] = 0x13; tooLong[3] = 0x88; // 5000
        Assert.Equal(NbdOptionDataStatus.TooBig, NbdOptionCodec.TryParseInfoRequest(tooLong, out _, out _));
    }

    [Fact]
    public void MetaContextRequestParsing()
    {
        var data = Hex("00000001 61 00000002 00000005 626173653A 00000002 7879");
        Assert.Equal(NbdOptionDataStatus.Valid, NbdOptionCodec.TryParseMetaContextRequest(data, out var name, out int count, out var queries));
        Assert.Equal("a"u8.ToArray(), name.ToArray());
        Assert.Equal(2, count);
        Assert.Equal("base:"u8.ToArray(), NbdOptionCodec.NextQuery(ref queries).ToArray());
        Assert.Equal("xy"u8.ToArray(), NbdOptionCodec.NextQuery(ref queries).ToArray());
        Assert.Equal(NbdOptionDataStatus.Invalid, NbdOptionCodec.TryParseMetaContextRequest(Hex("00000001 61 00000002 00000005 626173653A"), out _, out _, out _));
        Assert.Equal(NbdOptionDataStatus.Invalid, NbdOptionCodec.TryParseMetaContextRequest(Hex("00000001 61 00000001 00000001 62 00"), out _, out _, out _));
        Assert.Equal(NbdOptionDataStatus.Invalid, NbdOptionCodec.TryParseMetaContextRequest(Hex("00000001 61 FFFFFFFF"), out _, out _, out _));
    }

    [Fact]
    public void OptionReplies()
    {
        var b = new byte[64];
        Assert.True(NbdOptionCodec.TryWriteReplyHeader(b, NbdOption.Go, NbdOptionReplyType.ErrUnknown, 0, out int w));
        Assert.Equal(Hex("0003e889045565a9 00000007 80000006 00000000"), b[..w]);
        Assert.True(NbdOptionCodec.TryWriteInfoExport(b, NbdOption.Info, 0x40000000, NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.ReadOnly, out w));
        Assert.Equal(Hex("0003e889045565a9 00000006 00000003 0000000C 0000 0000000040000000 0003"), b[..w]);
        Assert.True(NbdOptionCodec.TryWriteInfoBlockSize(b, NbdOption.Go, 512, 4096, 0x2000000, out w));
        Assert.Equal(Hex("0003e889045565a9 00000007 00000003 0000000E 0003 00000200 00001000 02000000"), b[..w]);
        Assert.True(NbdOptionCodec.TryWriteInfoText(b, NbdOption.Go, NbdInfoType.Name, "d0", out w));
        Assert.Equal(Hex("0003e889045565a9 00000007 00000003 00000004 0001 6430"), b[..w]);
        Assert.True(NbdOptionCodec.TryWriteServer(b, "d0", out w));
        Assert.Equal(Hex("0003e889045565a9 00000003 00000002 00000006 00000002 6430"), b[..w]);
        Assert.True(NbdOptionCodec.TryWriteMetaContext(b, NbdOption.SetMetaContext, 1, "base:allocation", out w));
        Assert.Equal(Hex("0003e889045565a9 0000000A 00000004 00000013 00000001").Concat("base:allocation"u8.ToArray()), b[..w]);
        Assert.False(NbdOptionCodec.TryWriteMetaContext(new byte[30], NbdOption.SetMetaContext, 1, "base:allocation", out _));
    }

    [Fact]
    public void RequestHeader()
    {
        var bytes = Hex("25609513 0001 0001 0102030405060708 0000000000001000 00010000");
        Assert.Equal(NbdRequestReadStatus.Complete, NbdTransmissionCodec.TryReadRequest(Segmented(bytes, 5), out var r));
        Assert.Equal(new NbdRequest(NbdCommandFlags.Fua, NbdCommand.Write, 0x0102030405060708, 0x1000, 0x10000), r);
        var back = new byte[28];
        Assert.True(NbdTransmissionCodec.TryWriteRequest(back, r, out _));
        Assert.Equal(bytes, back);
        Assert.Equal(NbdRequestReadStatus.NeedMoreData, NbdTransmissionCodec.TryReadRequest(new ReadOnlySequence<byte>(bytes[..27]), out _));
        bytes[0] = 0x26;
        Assert.Equal(NbdRequestReadStatus.BadMagic, NbdTransmissionCodec.TryReadRequest(new ReadOnlySequence<byte>(bytes), out _));
    }

    [Fact]
    public void SimpleAndStructuredReplies()
    {
        var b = new byte[64];
        Assert.True(NbdTransmissionCodec.TryWriteSimpleReply(b, 28, 0xAABB, out int w));
        Assert.Equal(Hex("67446698 0000001C 000000000000AABB"), b[..w]);
        Assert.True(NbdTransmissionCodec.TryWriteOffsetDataHeader(b, NbdReplyFlags.Done, 7, 0x200, 0x1000, out w));
        Assert.Equal(Hex("668e33ef 0001 0001 0000000000000007 00001008 0000000000000200"), b[..w]);
        Assert.True(NbdTransmissionCodec.TryWriteOffsetHole(b, NbdReplyFlags.None, 7, 0x200, 0x1000, out w));
        Assert.Equal(Hex("668e33ef 0000 0002 0000000000000007 0000000C 0000000000000200 00001000"), b[..w]);
        Assert.True(NbdTransmissionCodec.TryWriteErrorChunk(b, NbdReplyFlags.Done, 7, 5, "x"u8, out w));
        Assert.Equal(Hex("668e33ef 0001 8001 0000000000000007 00000007 00000005 0001 78"), b[..w]);
        Assert.True(NbdTransmissionCodec.TryWriteNoneChunk(b, NbdReplyFlags.Done, 7, out w));
        Assert.Equal(Hex("668e33ef 0001 0000 0000000000000007 00000000"), b[..w]);
        Assert.True(NbdTransmissionCodec.TryWriteBlockStatusHeader(b, NbdReplyFlags.Done, 7, 1, 2, out w));
        Assert.True(NbdTransmissionCodec.TryWriteBlockDescriptor(b.AsSpan(w), 0x1000, NbdAllocationState.Hole | NbdAllocationState.Zero, out int d1));
        Assert.True(NbdTransmissionCodec.TryWriteBlockDescriptor(b.AsSpan(w + d1), 0x200, NbdAllocationState.Data, out int d2));
        Assert.Equal(Hex("668e33ef 0001 0005 0000000000000007 00000014 00000001 00001000 00000003 00000200 00000000"), b[..(w + d1 + d2)]);
        Assert.True(NbdTransmissionCodec.TryReadChunkHeader(b, out var header));
        Assert.Equal(new NbdChunkHeader(NbdReplyFlags.Done, NbdReplyChunkType.BlockStatus, 7, 20), header);
        Assert.False(NbdTransmissionCodec.TryWriteSimpleReply(new byte[15], 0, 0, out _));
    }
}
