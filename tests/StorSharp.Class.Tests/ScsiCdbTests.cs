using StorSharp.Class;
using StorSharp.Port;

namespace StorSharp.Class.Tests;

/// <summary>Byte-exact CDBs and parameter data against SBC-4 / SPC-5 layouts.</summary>
public class ScsiCdbTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    [Fact]
    public void OpcodesAreStable()
    {
        Assert.Equal([0x00, 0x12, 0x1A, 0x25, 0x42, 0x88, 0x8A, 0x90, 0x91, 0x93, 0x9E],
            new[] { ScsiOpcode.TestUnitReady, ScsiOpcode.Inquiry, ScsiOpcode.ModeSense6, ScsiOpcode.ReadCapacity10, ScsiOpcode.Unmap, ScsiOpcode.Read16, ScsiOpcode.Write16, ScsiOpcode.PreFetch16, ScsiOpcode.SynchronizeCache16, ScsiOpcode.WriteSame16, ScsiOpcode.ServiceActionIn16 }.Select(o => (int)o));
        Assert.Equal(0x10, (int)ServiceActionIn16.ReadCapacity16);
        Assert.Equal(0x12, (int)ServiceActionIn16.GetLbaStatus);
    }

    [Fact]
    public void ReadWrite16()
    {
        var srb = new Srb();
        ScsiCdb.Read16(srb, 0x0102030405060708, 0x10);
        Assert.Equal(Hex("88 00 0102030405060708 00000010 00 00"), srb.Cdb.ToArray());
        Assert.Equal(DataDirection.In, srb.Direction);
        ScsiCdb.Write16(srb, 5, 1, forceUnitAccess: true);
        Assert.Equal(Hex("8A 08 0000000000000005 00000001 00 00"), srb.Cdb.ToArray());
        Assert.Equal(DataDirection.Out, srb.Direction);
        Assert.Equal(SrbFunction.ExecuteScsi, srb.Function);
        Assert.Throws<ArgumentOutOfRangeException>(() => ScsiCdb.Read16(srb, -1, 1));
    }

    [Fact]
    public void SyncCacheWriteSamePreFetch()
    {
        var cdb = new byte[16];
        ScsiCdb.SynchronizeCache16(cdb);
        Assert.Equal(Hex("91 00 0000000000000000 00000000 00 00"), cdb);
        ScsiCdb.SynchronizeCache16(cdb, 8, 16, immediate: true);
        Assert.Equal(Hex("91 02 0000000000000008 00000010 00 00"), cdb);
        ScsiCdb.WriteSame16(cdb, 0x20, 0x100, unmap: true);
        Assert.Equal(Hex("93 08 0000000000000020 00000100 00 00"), cdb);
        ScsiCdb.WriteSame16(cdb, 0x20, 0x100, unmap: true, noDataOutBuffer: true);
        Assert.Equal(Hex("93 09 0000000000000020 00000100 00 00"), cdb);
        ScsiCdb.PreFetch16(cdb, 1, 2);
        Assert.Equal(Hex("90 00 0000000000000001 00000002 00 00"), cdb);
        var srb = new Srb();
        ScsiCdb.WriteSame16(srb, 0, 1, noDataOutBuffer: true);
        Assert.Equal(DataDirection.None, srb.Direction);
    }

    [Fact]
    public void ServiceActionIn16Commands()
    {
        var cdb = new byte[16];
        ScsiCdb.ReadCapacity16(cdb);
        Assert.Equal(Hex("9E 10 0000000000000000 00000020 00 00"), cdb);
        ScsiCdb.GetLbaStatus(cdb, 0x1000, 0x1008);
        Assert.Equal(Hex("9E 12 0000000000001000 00001008 00 00"), cdb);
    }

    [Fact]
    public void SixAndTenByteCommands()
    {
        var cdb = new byte[10];
        ScsiCdb.TestUnitReady(cdb);
        Assert.Equal(Hex("00 00 00 00 00 00"), cdb[..6]);
        ScsiCdb.Inquiry(cdb, 96);
        Assert.Equal(Hex("12 00 00 0060 00"), cdb[..6]);
        ScsiCdb.Inquiry(cdb, 0x100, VpdPage.BlockLimits);
        Assert.Equal(Hex("12 01 B0 0100 00"), cdb[..6]);
        ScsiCdb.ModeSense6(cdb, 0x08, 0xFF);
        Assert.Equal(Hex("1A 08 08 00 FF 00"), cdb[..6]);
        ScsiCdb.Unmap(cdb, 24);
        Assert.Equal(Hex("42 00 00 00 00 00 00 0018 00"), cdb);
        Assert.Throws<ArgumentException>(() => ScsiCdb.Unmap(new byte[9], 24));
    }

    [Fact]
    public void UnmapParameterListLayout()
    {
        var list = new byte[UnmapParameterList.GetLength(2)];
        UnmapParameterList.WriteHeader(list, 2);
        UnmapParameterList.WriteDescriptor(list, 0, 0x10, 8);
        UnmapParameterList.WriteDescriptor(list, 1, 0x2000, 0x10000);
        Assert.Equal(Hex("0026 0020 00000000 0000000000000010 00000008 00000000 0000000000002000 00010000 00000000"), list);
    }

    [Fact]
    public void ReadCapacity16DataRoundTrips()
    {
        var d = new ReadCapacity16Data(0x7FFF, 4096, 3, Lbpme: true, Lbprz: true, LowestAlignedLba: 0x101);
        var b = new byte[32];
        d.WriteTo(b);
        Assert.Equal(Hex("0000000000007FFF 00001000 00 03 C1 01"), b[..16]);
        Assert.True(ReadCapacity16Data.TryParse(b, out var back));
        Assert.Equal(d, back);
        Assert.Equal(0x8000, back.BlockCount);
        Assert.False(ReadCapacity16Data.TryParse(b.AsSpan(0, 15), out _));
    }

    [Fact]
    public void LbaStatusDescriptorsRoundTrip()
    {
        var b = new byte[8 + 32];
        LbaStatusDescriptor.WriteHeader(b, 2);
        new LbaStatusDescriptor(0, 8, ProvisioningStatus.Mapped).WriteTo(b, 0);
        new LbaStatusDescriptor(8, 24, ProvisioningStatus.Deallocated).WriteTo(b, 1);
        Assert.Equal(Hex("00000024 00000000"), b[..8]);
        Assert.Equal(2, LbaStatusDescriptor.CountIn(b));
        Assert.Equal(1, LbaStatusDescriptor.CountIn(b.AsSpan(0, 24 + 4)));
        Assert.Equal(new LbaStatusDescriptor(8, 24, ProvisioningStatus.Deallocated), LbaStatusDescriptor.Read(b, 1));
    }

    [Fact]
    public void BlockLimitsParsing()
    {
        var page = new byte[64];
        page[1] = 0xB0;
        page[3] = 0x3C;
        page[11] = 0x80;          // max transfer 128 blocks
        page[15] = 0x08;          // optimal 8
        page[23] = 0x40;          // max unmap 64
        page[27] = 0x01;          // 1 descriptor
        page[43] = 0x10;          // max write same 16
        Assert.True(BlockLimits.TryParse(page, out var limits));
        Assert.Equal(new BlockLimits(128, 8, 64, 1, 16), limits);
        page[1] = 0xB1;
        Assert.False(BlockLimits.TryParse(page, out _));
    }
}
