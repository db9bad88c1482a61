using System.Buffers.Binary;
using StorSharp.Block;

namespace StorSharp.Scsi.Tests;

public class VpdBlockPagesTests
{
    [Fact]
    public async Task Block_limits_reports_transfer_and_unmap_limits_on_thin_lus()
    {
        var caps = BlockDeviceCapabilities.ThinProvisioned | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.NonRotational;
        var (h, _) = await DiskHarness.SingleAsync(new TestBlockDevice(1024, 512, caps));
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Inquiry(255, true, 0xB0), 255);
        r.AssertGood();
        Assert.Equal(0x3C, BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(2)));
        Assert.Equal(1, r.Data[4] & 1);
        Assert.Equal((uint)(8 * 1024 * 1024 / 512), BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(8)));
        // libiscsi Inquiry.BlockLimits: an explicit MAXIMUM UNMAP LBA COUNT must be at most 1 Mi.
        uint maxUnmap = BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(20));
        Assert.InRange(maxUnmap, 1u, 1024u * 1024);
        Assert.InRange(BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(24)), 1u, 1024u * 1024);
        // MAXIMUM WRITE SAME LENGTH below 65536 (libiscsi WriteSame16.Unmap otherwise writes 65536 blocks in one command).
        Assert.Equal(0xFFFFUL, BinaryPrimitives.ReadUInt64BigEndian(r.Data.AsSpan(36)));

        var b1 = await h.ExecAsync(Cdbs.Inquiry(255, true, 0xB1), 255);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(b1.Data.AsSpan(4)));

        var b2 = await h.ExecAsync(Cdbs.Inquiry(255, true, 0xB2), 255);
        Assert.Equal(0xE0, b2.Data[5] & 0xE0);
        Assert.Equal(0x04, b2.Data[5] & 0x1C);
        Assert.Equal(2, b2.Data[6] & 0x07);
    }

    [Fact]
    public async Task Thick_lu_has_no_unmap_limits_and_no_provisioning_bits()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Inquiry(255, true, 0xB0), 255);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(20)));
        var b2 = await h.ExecAsync(Cdbs.Inquiry(255, true, 0xB2), 255);
        Assert.Equal(0, b2.Data[5]);
        var b1 = await h.ExecAsync(Cdbs.Inquiry(255, true, 0xB1), 255);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(b1.Data.AsSpan(4)));
    }
}
