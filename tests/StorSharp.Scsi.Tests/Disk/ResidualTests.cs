using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

/// <summary>The residual rule, case by case as libiscsi's iSCSIResiduals suite checks it.</summary>
public class ResidualTests
{
    [Fact]
    public async Task Read_into_a_larger_buffer_is_an_underrun_with_the_exact_length()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Read10(0, 1), 10000);
        Assert.Equal(ScsiStatus.Good, r.ScsiStatus);
        Assert.Equal(SrbStatus.DataOverrun, r.Status);
        Assert.Equal(512, r.DataTransferLength);           // residual underflow 10000 - 512
        Assert.Equal(512, r.Data.Length);
    }

    [Fact]
    public async Task Read_into_a_partial_block_buffer_moves_what_fits_and_reports_the_overflow()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        Cdbs.Pattern(512, 4).CopyTo(dev.Bytes);
        var r = await h.ExecAsync(Cdbs.Read10(0, 1), 200);
        Assert.Equal(ScsiStatus.Good, r.ScsiStatus);
        Assert.Equal(SrbStatus.DataOverrun, r.Status);
        Assert.Equal(512, r.DataTransferLength);           // residual overflow 512 - 200
        Assert.Equal(Cdbs.Pattern(512, 4)[..200], r.Data);
    }

    [Fact]
    public async Task Read_two_blocks_into_one_block_buffer()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Read10(0, 2), 512);
        Assert.Equal(SrbStatus.DataOverrun, r.Status);
        Assert.Equal(1024, r.DataTransferLength);
        Assert.Equal(-512, SrbResult.Residual(NewSrbLike(r), 512));
    }

    [Fact]
    public async Task Read_with_no_buffer_is_good_with_full_overflow()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Read10(0, 1), 0);
        Assert.Equal(ScsiStatus.Good, r.ScsiStatus);
        Assert.Equal(512, r.DataTransferLength);
        Assert.Equal(0, dev.ReadCount);
    }

    [Fact]
    public async Task Write_with_more_data_than_the_cdb_writes_only_the_cdb_blocks()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        dev.Bytes[..1024].Fill((byte)'a');
        var data = new byte[1024];
        data.AsSpan().Fill((byte)'b');
        var r = await h.ExecAsync(Cdbs.Write10(0, 1), dataOut: data);
        Assert.Equal(ScsiStatus.Good, r.ScsiStatus);
        Assert.Equal(SrbStatus.DataOverrun, r.Status);
        Assert.Equal(512, r.DataTransferLength);           // underflow of one block
        Assert.True(dev.Bytes[..512].ToArray().All(b => b == 'b'));
        Assert.True(dev.Bytes[512..1024].ToArray().All(b => b == 'a'));
    }

    [Fact]
    public async Task Write_with_less_data_than_the_cdb_writes_only_the_whole_blocks_received()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        dev.Bytes[..1024].Fill((byte)'a');
        var data = new byte[512];
        data.AsSpan().Fill((byte)'b');
        var r = await h.ExecAsync(Cdbs.Write10(0, 2), dataOut: data);
        Assert.Equal(ScsiStatus.Good, r.ScsiStatus);
        Assert.Equal(1024, r.DataTransferLength);          // overflow of one block
        Assert.True(dev.Bytes[..512].ToArray().All(b => b == 'b'));
        Assert.True(dev.Bytes[512..1024].ToArray().All(b => b == 'a'));
    }

    [Fact]
    public async Task Write_with_a_partial_block_writes_nothing()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Write10(0, 1), dataOut: new byte[200]);
        Assert.Equal(ScsiStatus.Good, r.ScsiStatus);
        Assert.Equal(512, r.DataTransferLength);
        Assert.Equal(0, dev.WriteCount);
    }

    [Fact]
    public async Task Exact_buffer_is_success()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Read16(0, 2), 1024);
        Assert.Equal(SrbStatus.Success, r.Status);
        Assert.Equal(1024, r.DataTransferLength);
    }

    [Fact]
    public async Task Data_in_command_with_less_data_than_allocation_reports_what_it_has()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Inquiry(255), 255);
        Assert.Equal(SrbStatus.DataOverrun, r.Status);
        Assert.Equal(96, r.DataTransferLength);
    }

    private static Srb NewSrbLike(ScsiResult r) => new() { DataTransferLength = r.DataTransferLength };
}
