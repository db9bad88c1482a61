using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class CacheAndSenseTests
{
    [Fact]
    public async Task Synchronize_cache_10_and_16_reach_the_backend_flush()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        int before = dev.FlushCount;
        (await h.ExecAsync([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0])).AssertGood();
        Assert.Equal(before + 1, dev.FlushCount);
        (await h.ExecAsync([0x91, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0])).AssertGood();
        Assert.Equal(before + 2, dev.FlushCount);
    }

    [Fact]
    public async Task Synchronize_cache_beyond_the_end_is_lba_out_of_range()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync([0x35, 0, 0, 0, 0x04, 0x00, 0, 0, 1, 0]);
        r.AssertCheckCondition(SenseCodes.LbaOutOfRange);
        Assert.Equal(0, dev.FlushCount);
    }

    [Fact]
    public async Task Flush_and_shutdown_functions_flush_the_backend()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        foreach (var function in new[] { SrbFunction.Flush, SrbFunction.Shutdown })
        {
            int before = dev.FlushCount;
            var srb = SrbPool.Shared.Rent();
            srb.Function = function;
            srb.Address = DiskHarness.Lun0;
            await h.Adapter.ExecuteAsync(srb);
            Assert.Equal(SrbStatus.Success, srb.Status);
            srb.Release();
            Assert.Equal(before + 1, dev.FlushCount);
        }
    }

    [Fact]
    public async Task Failed_flush_fails_synchronize_cache()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        dev.FailNext = Block.BlockError.MediumError;
        var r = await h.ExecAsync([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Equal(ScsiStatus.CheckCondition, r.ScsiStatus);
        Assert.Equal(SenseKey.MediumError, r.SenseInfo.Code.Key);
    }

    [Fact]
    public async Task Request_sense_without_pending_sense_is_no_sense()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.RequestSense(), 252);
        r.AssertGood();
        Assert.Equal(18, r.DataTransferLength);
        Assert.Equal(0x70, r.Data[0]);
        Assert.Equal(SenseCodes.NoSense, SenseData.TryParse(r.Data, out var info) ? info.Code : default);
        var d = await h.ExecAsync(Cdbs.RequestSense(descriptor: true), 252);
        Assert.Equal(0x72, d.Data[0]);
    }

    [Fact]
    public async Task Sense_without_room_for_autosense_waits_for_request_sense_on_the_same_nexus()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var a = new InitiatorNexus("a", "t");
        var b = new InitiatorNexus("b", "t");
        // Each new nexus first hears POWER ON, RESET.
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: a)).AssertCheckCondition(SenseCodes.PowerOnReset);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: b)).AssertCheckCondition(SenseCodes.PowerOnReset);
        var failed = await h.ExecAsync([0xFD, 0, 0, 0, 0, 0], nexus: a, senseLength: 0);
        Assert.Equal(ScsiStatus.CheckCondition, failed.ScsiStatus);
        Assert.Empty(failed.Sense);
        var other = await h.ExecAsync(Cdbs.RequestSense(), 252, nexus: b);
        Assert.Equal(SenseCodes.NoSense, other.SenseInfoFromData());
        var mine = await h.ExecAsync(Cdbs.RequestSense(), 252, nexus: a);
        Assert.Equal(SenseCodes.InvalidCommandOperationCode, mine.SenseInfoFromData());
        var again = await h.ExecAsync(Cdbs.RequestSense(), 252, nexus: a);
        Assert.Equal(SenseCodes.NoSense, again.SenseInfoFromData());
    }
}

internal static class ScsiResultExtensions
{
    public static SenseCode SenseInfoFromData(this ScsiResult r) => SenseData.TryParse(r.Data, out var info) ? info.Code : throw new InvalidOperationException("no sense in data");
}
