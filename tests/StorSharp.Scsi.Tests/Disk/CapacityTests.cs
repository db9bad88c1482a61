using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class CapacityTests
{
    [Fact]
    public async Task Read_capacity_10_reports_last_lba_and_block_size()
    {
        var (h, _) = await DiskHarness.SingleAsync(new TestBlockDevice(2048, 4096));
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.ReadCapacity10(), 8);
        Assert.Equal(SrbStatus.Success, r.Status);
        Assert.Equal(2047u, BinaryPrimitives.ReadUInt32BigEndian(r.Data));
        Assert.Equal(4096u, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(4)));
    }

    [Fact]
    public async Task Read_capacity_10_saturates_when_the_lu_is_too_big()
    {
        var (h, _) = await DiskHarness.SingleAsync(new TestBlockDevice(16, reportedBlockCount: 0x1_0000_0005));
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.ReadCapacity10(), 8);
        Assert.Equal(0xFFFFFFFFu, BinaryPrimitives.ReadUInt32BigEndian(r.Data));
        var r16 = await h.ExecAsync(Cdbs.ReadCapacity16(), 32);
        Assert.Equal(0x1_0000_0004ul, BinaryPrimitives.ReadUInt64BigEndian(r16.Data));
    }

    [Fact]
    public async Task Read_capacity_10_with_lba_but_no_pmi_is_invalid()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync([0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0], 8);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }

    [Fact]
    public async Task Read_capacity_16_thick_lu()
    {
        var (h, _) = await DiskHarness.SingleAsync(new TestBlockDevice(1000, 512, physicalExponent: 3));
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.ReadCapacity16(), 32);
        Assert.Equal(SrbStatus.Success, r.Status);
        Assert.Equal(999ul, BinaryPrimitives.ReadUInt64BigEndian(r.Data));
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(8)));
        Assert.Equal(3, r.Data[13] & 0x0F);
        Assert.Equal(0, r.Data[14] & 0xC0); // no LBPME / LBPRZ
    }

    [Fact]
    public async Task Read_capacity_16_thin_lu_sets_lbpme_and_lbprz()
    {
        var caps = BlockDeviceCapabilities.ThinProvisioned | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes;
        var (h, _) = await DiskHarness.SingleAsync(new TestBlockDevice(64, capabilities: caps));
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.ReadCapacity16(), 32);
        Assert.Equal(0xC0, r.Data[14] & 0xC0);
    }

    [Fact]
    public async Task Read_capacity_16_honours_a_short_allocation_length()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.ReadCapacity16(12), 32);
        Assert.Equal(12, r.DataTransferLength);
        Assert.Equal(SrbStatus.DataOverrun, r.Status); // an underrun: 20 bytes of the buffer unused
    }

    [Fact]
    public async Task Unknown_service_action_points_at_the_service_action_field()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var cdb = Cdbs.ReadCapacity16();
        cdb[1] = 0x1E;
        var r = await h.ExecAsync(cdb, 32);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(SenseKeySpecific.Cdb(1, 4), r.SenseInfo.Specific);
    }
}
