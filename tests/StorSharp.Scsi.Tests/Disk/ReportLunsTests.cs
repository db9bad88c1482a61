using System.Buffers.Binary;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class ReportLunsTests
{
    private static async Task<DiskHarness> ThreeLunsAsync() => await DiskHarness.CreateAsync(
        new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), new TestBlockDevice(8)),
        new ScsiDiskDefinition(new ScsiAddress(0, 0, 3), new TestBlockDevice(8)),
        new ScsiDiskDefinition(new ScsiAddress(0, 0, 200), new TestBlockDevice(8)),
        new ScsiDiskDefinition(new ScsiAddress(0, 1, 5), new TestBlockDevice(8)));

    [Fact]
    public async Task Lists_the_targets_luns_with_peripheral_addressing()
    {
        await using var h = await ThreeLunsAsync();
        var r = await h.ExecAsync(Cdbs.ReportLuns(), 4096);
        r.AssertGood();
        Assert.Equal(24u, BinaryPrimitives.ReadUInt32BigEndian(r.Data));
        Assert.Equal(8 + 24, r.DataTransferLength);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0], r.Data[8..16]);
        Assert.Equal([0, 3, 0, 0, 0, 0, 0, 0], r.Data[16..24]);
        Assert.Equal([0, 200, 0, 0, 0, 0, 0, 0], r.Data[24..32]);
        var t1 = await h.ExecAsync(Cdbs.ReportLuns(), 4096, address: new ScsiAddress(0, 1, 5));
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32BigEndian(t1.Data));
        Assert.Equal([0, 5, 0, 0, 0, 0, 0, 0], t1.Data[8..16]);
    }

    [Fact]
    public void Large_luns_use_flat_space_addressing()
    {
        Span<byte> b = stackalloc byte[8];
        ReportLunsCommand.Encode(300, b);
        Assert.Equal([0x41, 0x2C, 0, 0, 0, 0, 0, 0], b.ToArray());
    }

    [Fact]
    public async Task Well_known_only_report_is_empty()
    {
        await using var h = await ThreeLunsAsync();
        var r = await h.ExecAsync(Cdbs.ReportLuns(select: 1), 4096);
        r.AssertGood();
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(r.Data));
    }

    [Fact]
    public async Task Small_allocation_is_invalid_and_bad_select_is_invalid()
    {
        await using var h = await ThreeLunsAsync();
        var r = await h.ExecAsync(Cdbs.ReportLuns(allocation: 15), 16);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(6, r.SenseInfo.Specific.Field);
        r = await h.ExecAsync(Cdbs.ReportLuns(select: 3), 4096);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(2, r.SenseInfo.Specific.Field);
    }

    [Fact]
    public async Task Truncated_list_keeps_the_full_list_length()
    {
        await using var h = await ThreeLunsAsync();
        var r = await h.ExecAsync(Cdbs.ReportLuns(allocation: 16), 16);
        Assert.Equal(24u, BinaryPrimitives.ReadUInt32BigEndian(r.Data));
        Assert.Equal(16, r.DataTransferLength);
        Assert.Equal(SrbStatus.Success, r.Status);
    }
}
