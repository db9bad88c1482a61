using System.Buffers.Binary;
using StorSharp.Block;

namespace StorSharp.Scsi.Tests;

public class ProvisioningTests
{
    private const BlockDeviceCapabilities ThinCaps = BlockDeviceCapabilities.ThinProvisioned | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes;

    private static byte[] UnmapList(params (ulong Lba, uint Blocks)[] ranges)
    {
        var list = new byte[8 + 16 * ranges.Length];
        BinaryPrimitives.WriteUInt16BigEndian(list, (ushort)(list.Length - 2));
        BinaryPrimitives.WriteUInt16BigEndian(list.AsSpan(2), (ushort)(16 * ranges.Length));
        for (int i = 0; i < ranges.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(list.AsSpan(8 + 16 * i), ranges[i].Lba);
            BinaryPrimitives.WriteUInt32BigEndian(list.AsSpan(16 + 16 * i), ranges[i].Blocks);
        }
        return list;
    }

    private static byte[] UnmapCdb(int length, byte byte1 = 0) => [0x42, byte1, 0, 0, 0, 0, 0, (byte)(length >> 8), (byte)length, 0];

    [Fact]
    public async Task Unmap_deallocates_the_ranges_and_get_lba_status_reports_them()
    {
        var dev = new TestBlockDevice(64, capabilities: ThinCaps);
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        dev.Bytes.Fill(0x55);
        var list = UnmapList((4, 4), (20, 2));
        var r = await h.ExecAsync(UnmapCdb(list.Length), dataOut: list);
        r.AssertGood();
        Assert.Equal(2, dev.UnmapCount);
        Assert.True(dev.IsUnmapped(4) && dev.IsUnmapped(7) && dev.IsUnmapped(21));
        Assert.False(dev.IsUnmapped(8));
        Assert.True(dev.Bytes.Slice(4 * 512, 4 * 512).IndexOfAnyExcept((byte)0) < 0);

        var s = await h.ExecAsync([0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 1, 0, 0, 0], 256);
        s.AssertGood();
        Assert.Equal(4ul, BinaryPrimitives.ReadUInt64BigEndian(s.Data.AsSpan(8)));
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32BigEndian(s.Data.AsSpan(16)));
        Assert.Equal(1, s.Data[20] & 0x0F);              // deallocated
        Assert.Equal(8ul, BinaryPrimitives.ReadUInt64BigEndian(s.Data.AsSpan(24)));
        Assert.Equal(0, s.Data[36] & 0x0F);              // mapped
    }

    [Fact]
    public async Task Get_lba_status_beyond_the_end_is_lba_out_of_range()
    {
        var (h, _) = await DiskHarness.SingleAsync(new TestBlockDevice(64, capabilities: ThinCaps));
        await using var _h = h;
        (await h.ExecAsync([0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 1, 0, 0, 0], 256)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        (await h.ExecAsync([0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 63, 0, 0, 1, 0, 0, 0], 256)).AssertGood();
    }

    [Fact]
    public async Task Unmap_validates_its_parameter_list()
    {
        var dev = new TestBlockDevice(64, capabilities: ThinCaps);
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        (await h.ExecAsync(UnmapCdb(0))).AssertGood();
        (await h.ExecAsync(UnmapCdb(6), dataOut: new byte[6])).AssertCheckCondition(SenseCodes.ParameterListLengthError);
        var beyond = UnmapList((60, 8));
        (await h.ExecAsync(UnmapCdb(beyond.Length), dataOut: beyond)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        var bad = UnmapList((0, 1));
        BinaryPrimitives.WriteUInt16BigEndian(bad.AsSpan(2), 64);
        var r = await h.ExecAsync(UnmapCdb(bad.Length), dataOut: bad);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);
        Assert.Equal(SenseKeySpecific.Parameter(2), r.SenseInfo.Specific);
        (await h.ExecAsync(UnmapCdb(bad.Length, 0x01), dataOut: bad)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb); // ANCHOR
        Assert.Equal(0, dev.UnmapCount);
    }

    [Fact]
    public async Task Unmap_is_an_unknown_opcode_on_a_thick_lu()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var list = UnmapList((0, 1));
        (await h.ExecAsync(UnmapCdb(list.Length), dataOut: list)).AssertCheckCondition(SenseCodes.InvalidCommandOperationCode);
    }

    [Fact]
    public async Task Write_same_repeats_a_block_and_unmaps_zeros_on_thin_lus()
    {
        var dev = new TestBlockDevice(64, capabilities: ThinCaps);
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        var block = Cdbs.Pattern(512, 8);
        var r = await h.ExecAsync([0x41, 0, 0, 0, 0, 10, 0, 0, 5, 0], dataOut: block);
        r.AssertGood();
        for (int i = 10; i < 15; i++) Assert.Equal(block, dev.Bytes.Slice(i * 512, 512).ToArray());
        Assert.True(dev.Bytes.Slice(15 * 512, 512).IndexOfAnyExcept((byte)0) < 0);

        var zeros = new byte[512];
        (await h.ExecAsync([0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 3, 0, 0], dataOut: zeros)).AssertGood();
        Assert.Equal(WriteZeroesFlags.MayUnmap, dev.LastZeroFlags & WriteZeroesFlags.MayUnmap);
        Assert.True(dev.IsUnmapped(10) && dev.IsUnmapped(12));
        Assert.False(dev.IsUnmapped(13));

        // NDOB: no data-out, zeros.
        var ndob = await h.ExecAsync([0x93, 0x09, 0, 0, 0, 0, 0, 0, 0, 13, 0, 0, 0, 2, 0, 0]);
        Assert.Equal(Port.ScsiStatus.Good, ndob.ScsiStatus);
        Assert.True(dev.IsUnmapped(14));
    }

    [Fact]
    public async Task Write_same_refuses_zero_blocks_anchor_and_beyond_the_end()
    {
        var dev = new TestBlockDevice(64);
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        var block = new byte[512];
        var r = await h.ExecAsync([0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataOut: block);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(7, r.SenseInfo.Specific.Field);
        (await h.ExecAsync([0x41, 0x10, 0, 0, 0, 0, 0, 0, 1, 0], dataOut: block)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        (await h.ExecAsync([0x41, 0, 0, 0, 0, 63, 0, 0, 2, 0], dataOut: block)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        Assert.Equal(0, dev.WriteCount);
    }

    [Fact]
    public async Task Write_same_with_unmap_is_invalid_on_a_thick_lu_and_limited_to_65535_blocks()
    {
        // SBC-4 §5.49: no unmapping through WRITE SAME (LBPWS = 0) makes UNMAP = 1 an invalid field;
        // libiscsi WriteSame10/16.UnmapVPD fail a thick LU that accepts it.
        var dev = new TestBlockDevice(70000);
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        var r = await h.ExecAsync([0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0], dataOut: new byte[512]);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(1, r.SenseInfo.Specific.Field);
        byte[] ws16 = [0x93, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]; // 65536 blocks
        (await h.ExecAsync(ws16, dataOut: new byte[512])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        ws16[11] = 0; ws16[12] = 0xFF; ws16[13] = 0xFF;                   // 65535 blocks
        (await h.ExecAsync(ws16, dataOut: Cdbs.Pattern(512, 3))).AssertGood();
        Assert.Equal(0, dev.UnmapCount);
    }
}
