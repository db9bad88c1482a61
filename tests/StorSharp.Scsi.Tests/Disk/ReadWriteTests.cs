using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class ReadWriteTests
{
    [Fact]
    public async Task Write10_then_read10_round_trip()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var data = Cdbs.Pattern(4 * 512, 3);
        var w = await h.ExecAsync(Cdbs.Write10(10, 4), dataOut: data);
        Assert.Equal(SrbStatus.Success, w.Status);
        Assert.Equal(data.Length, w.DataTransferLength);
        Assert.Equal(data, dev.Bytes.Slice(10 * 512, data.Length).ToArray());
        var r = await h.ExecAsync(Cdbs.Read10(10, 4), data.Length);
        Assert.Equal(SrbStatus.Success, r.Status);
        Assert.Equal(data, r.Data);
    }

    [Fact]
    public async Task Write16_then_read16_round_trip_with_fua()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var data = Cdbs.Pattern(3 * 512, 9);
        var w = await h.ExecAsync(Cdbs.Write16(1000, 3, 0x08), dataOut: data);
        w.AssertGood();
        Assert.Equal(BlockWriteFlags.ForceUnitAccess, dev.LastWriteFlags);
        var r = await h.ExecAsync(Cdbs.Read16(1000, 3), data.Length);
        Assert.Equal(data, r.Data);
    }

    [Fact]
    public async Task Read6_write6_and_12_round_trip()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var data = Cdbs.Pattern(512, 1);
        (await h.ExecAsync([0x0A, 0, 0, 7, 1, 0], dataOut: data)).AssertGood();
        Assert.Equal(data, (await h.ExecAsync([0x08, 0, 0, 7, 1, 0], 512)).Data);
        (await h.ExecAsync([0xAA, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0], dataOut: data)).AssertGood();
        Assert.Equal(data, (await h.ExecAsync([0xA8, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0], 512)).Data);
    }

    [Theory]
    [InlineData(new[] { 512, 1024, 512 })]   // block-aligned: one device call per segment
    [InlineData(new[] { 100, 924, 1024 })]   // unaligned: through a bounce buffer
    [InlineData(new[] { 2048 })]
    public async Task Multi_segment_scatter_gather_round_trip(int[] segments)
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var data = Cdbs.Pattern(2048, 5);
        (await h.ExecAsync(Cdbs.Write10(20, 4), dataOut: data, segments: segments)).AssertGood();
        Assert.Equal(data, dev.Bytes.Slice(20 * 512, 2048).ToArray());
        var r = await h.ExecAsync(Cdbs.Read10(20, 4), 2048, segments: segments);
        Assert.Equal(SrbStatus.Success, r.Status);
        Assert.Equal(data, r.Data);
        if (segments.All(s => s % 512 == 0)) Assert.Equal(segments.Length, dev.ReadCount);
    }

    [Theory]
    [InlineData(1024ul, 1u)]                    // starts at the capacity
    [InlineData(1023ul, 2u)]                    // runs past the end
    [InlineData(1025ul, 0u)]                    // zero blocks, past the end
    [InlineData(ulong.MaxValue, 1u)]            // LBA + count overflows 64 bits
    [InlineData(0x8000000000000000ul, 0u)]
    public async Task Lba_out_of_range_is_refused_before_the_device_is_touched(ulong lba, uint blocks)
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Read16(lba, blocks), 512);
        r.AssertCheckCondition(SenseCodes.LbaOutOfRange);
        var w = await h.ExecAsync(Cdbs.Write16(lba, blocks), dataOut: new byte[512]);
        w.AssertCheckCondition(SenseCodes.LbaOutOfRange);
        Assert.Equal(0, dev.ReadCount);
        Assert.Equal(0, dev.WriteCount);
    }

    [Fact]
    public async Task Zero_blocks_at_the_capacity_is_good()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Read10(1024, 0));
        Assert.Equal(SrbStatus.Success, r.Status);
        Assert.Equal(ScsiStatus.Good, r.ScsiStatus);
    }

    [Fact]
    public async Task Rdprotect_is_invalid_field_with_bit_pointer()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Read10(0, 1, 0x20), 512);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(SenseKeySpecific.Cdb(1, 5), r.SenseInfo.Specific);
    }

    [Fact]
    public async Task Dpo_fua_and_fua_nv_are_accepted()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        (await h.ExecAsync(Cdbs.Read10(0, 1, 0x1A), 512)).AssertGood();
        (await h.ExecAsync(Cdbs.Write10(0, 1, 0x1A), dataOut: new byte[512])).AssertGood();
    }

    [Fact]
    public async Task Read_only_definition_refuses_writes_with_data_protect()
    {
        var (h, dev) = await DiskHarness.SingleAsync(configure: d => d with { ReadOnly = true });
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Write16(0, 1), dataOut: new byte[512]);
        r.AssertCheckCondition(SenseCodes.WriteProtected);
        Assert.Equal(SenseKey.DataProtect, r.SenseInfo.Code.Key);
        Assert.Equal(0, dev.WriteCount);
        (await h.ExecAsync(Cdbs.Read16(0, 1), 512)).AssertGood();
    }

    [Theory]
    [InlineData(BlockError.MediumError, false, 0x03, 0x11, 0x00)]
    [InlineData(BlockError.MediumError, true, 0x03, 0x0C, 0x00)]
    [InlineData(BlockError.NoSpace, true, 0x07, 0x27, 0x07)]
    [InlineData(BlockError.NotReady, false, 0x02, 0x04, 0x00)]
    [InlineData(BlockError.ReadOnly, true, 0x07, 0x27, 0x00)]
    [InlineData(BlockError.OutOfRange, false, 0x05, 0x21, 0x00)]
    [InlineData(BlockError.InvalidArgument, false, 0x04, 0x44, 0x00)]
    public async Task Block_device_errors_map_to_sense(BlockError error, bool write, byte key, byte asc, byte ascq)
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        dev.FailNext = error;
        var r = write ? await h.ExecAsync(Cdbs.Write10(5, 1), dataOut: new byte[512]) : await h.ExecAsync(Cdbs.Read10(5, 1), 512);
        r.AssertCheckCondition(new SenseCode((SenseKey)key, asc, ascq));
        Assert.Equal(0, r.DataTransferLength);
        if (error == BlockError.MediumError)
        {
            Assert.True(r.SenseInfo.InformationValid);
            Assert.Equal(5ul, r.SenseInfo.Information);
        }
    }

    [Fact]
    public async Task Unknown_opcode_sense_is_byte_exact()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync([0xFD, 0, 0, 0, 0, 0]);
        Assert.Equal(ScsiStatus.CheckCondition, r.ScsiStatus);
        Assert.Equal(SrbStatus.Error, r.Status);
        byte[] expected = [0x70, 0, 0x05, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0x20, 0x00, 0, 0xC0, 0x00, 0x00];
        Assert.Equal(expected, r.Sense);
    }

    [Fact]
    public async Task Descriptor_sense_option_switches_the_format()
    {
        var def = new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), new TestBlockDevice());
        await using var h = await DiskHarness.CreateAsync(new ScsiDiskMiniportOptions { DescriptorSense = true }, def);
        var r = await h.ExecAsync([0xFD, 0, 0, 0, 0, 0]);
        Assert.Equal(0x72, r.Sense[0]);
        Assert.Equal(SenseCodes.InvalidCommandOperationCode, r.SenseInfo.Code);
        Assert.Equal(SenseKeySpecific.Cdb(0), r.SenseInfo.Specific);
    }

    [Fact]
    public async Task Test_unit_ready_is_good()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.TestUnitReady());
        Assert.Equal(SrbStatus.Success, r.Status);
        Assert.Equal(ScsiStatus.Good, r.ScsiStatus);
    }
}
