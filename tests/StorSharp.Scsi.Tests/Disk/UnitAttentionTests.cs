using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class UnitAttentionTests
{
    [Fact]
    public async Task New_nexus_gets_power_on_reset_once_but_inquiry_and_report_luns_pass()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var n = new InitiatorNexus("iqn.a", "t");
        (await h.ExecAsync(Cdbs.Inquiry(96), 96, nexus: n)).AssertGood();
        (await h.ExecAsync(Cdbs.ReportLuns(), 512, nexus: n)).AssertGood();
        var r = await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: n);
        r.AssertCheckCondition(SenseCodes.PowerOnReset);
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: n)).AssertGood();
    }

    [Fact]
    public async Task Request_sense_returns_and_clears_the_unit_attention()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var n = new InitiatorNexus("iqn.b", "t");
        var r = await h.ExecAsync(Cdbs.RequestSense(), 252, nexus: n);
        r.AssertGood();
        Assert.Equal(SenseCodes.PowerOnReset, r.SenseInfoFromData());
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: n)).AssertGood();
    }

    [Fact]
    public async Task Local_nexus_never_gets_unit_attentions()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task Power_on_attention_can_be_turned_off()
    {
        var def = new ScsiDiskDefinition(DiskHarness.Lun0, new TestBlockDevice());
        await using var h = await DiskHarness.CreateAsync(new ScsiDiskMiniportOptions { PowerOnUnitAttention = false }, def);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: new InitiatorNexus("x", "t"))).AssertGood();
    }

    [Fact]
    public async Task Lu_reset_gives_every_nexus_bus_device_reset()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var a = new InitiatorNexus("a", "t");
        var b = new InitiatorNexus("b", "t");
        await h.ExecAsync(Cdbs.TestUnitReady(), nexus: a);
        await h.ExecAsync(Cdbs.TestUnitReady(), nexus: b);
        var reset = SrbPool.Shared.Rent();
        reset.Function = SrbFunction.ResetLogicalUnit;
        reset.Address = DiskHarness.Lun0;
        await h.Adapter.ExecuteAsync(reset);
        reset.Release();
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: a)).AssertCheckCondition(SenseCodes.BusDeviceResetFunctionOccurred);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: b)).AssertCheckCondition(SenseCodes.BusDeviceResetFunctionOccurred);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: a)).AssertGood();
    }
}
