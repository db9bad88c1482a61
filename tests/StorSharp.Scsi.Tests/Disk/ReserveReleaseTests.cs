using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class ReserveReleaseTests
{
    private static readonly byte[] Reserve6 = [0x16, 0, 0, 0, 0, 0];
    private static readonly byte[] Release6 = [0x17, 0, 0, 0, 0, 0];

    [Fact]
    public async Task Reservation_blocks_the_other_nexus_until_released()
    {
        var def = new ScsiDiskDefinition(DiskHarness.Lun0, new TestBlockDevice());
        await using var h = await DiskHarness.CreateAsync(new ScsiDiskMiniportOptions { PowerOnUnitAttention = false }, def);
        var a = new InitiatorNexus("a", "t");
        var b = new InitiatorNexus("b", "t");
        (await h.ExecAsync(Reserve6, nexus: a)).AssertGood();
        (await h.ExecAsync(Reserve6, nexus: a)).AssertGood();
        var conflict = await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: b);
        Assert.Equal(ScsiStatus.ReservationConflict, conflict.ScsiStatus);
        Assert.Equal(SrbStatus.Error, conflict.Status);
        Assert.Equal(ScsiStatus.ReservationConflict, (await h.ExecAsync(Reserve6, nexus: b)).ScsiStatus);
        (await h.ExecAsync(Cdbs.Inquiry(96), 96, nexus: b)).AssertGood();
        (await h.ExecAsync(Release6, nexus: b)).AssertGood();       // not the holder: no-op
        Assert.Equal(ScsiStatus.ReservationConflict, (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: b)).ScsiStatus);
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: a)).AssertGood();
        (await h.ExecAsync(Release6, nexus: a)).AssertGood();
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: b)).AssertGood();
    }

    [Fact]
    public async Task Lu_reset_releases_the_reservation()
    {
        var def = new ScsiDiskDefinition(DiskHarness.Lun0, new TestBlockDevice());
        await using var h = await DiskHarness.CreateAsync(new ScsiDiskMiniportOptions { PowerOnUnitAttention = false }, def);
        var a = new InitiatorNexus("a", "t");
        (await h.ExecAsync([0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0], nexus: a)).AssertGood();
        Assert.Equal(ScsiStatus.ReservationConflict, (await h.ExecAsync(Cdbs.TestUnitReady())).ScsiStatus);
        var reset = SrbPool.Shared.Rent();
        reset.Function = SrbFunction.ResetLogicalUnit;
        reset.Address = DiskHarness.Lun0;
        await h.Adapter.ExecuteAsync(reset);
        reset.Release();
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertGood();
    }
}
