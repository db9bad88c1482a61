using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class MediumTests
{
    private static byte[] StartStop(bool start, bool loej = false, int power = 0, bool noFlush = false) =>
        [0x1B, 0, 0, 0, (byte)((power << 4) | (noFlush ? 4 : 0) | (loej ? 2 : 0) | (start ? 1 : 0)), 0];

    private static byte[] PreventAllow(int prevent) => [0x1E, 0, 0, 0, (byte)prevent, 0];

    [Fact]
    public async Task Stop_makes_medium_access_not_ready_and_flushes_until_started()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        int flushes = dev.FlushCount;
        (await h.ExecAsync(StartStop(false))).AssertGood();
        Assert.Equal(flushes + 1, dev.FlushCount);
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertCheckCondition(SenseCodes.NotReadyInitializingCommandRequired);
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertCheckCondition(SenseCodes.NotReadyInitializingCommandRequired);
        (await h.ExecAsync(Cdbs.Inquiry(96), 96)).AssertGood();
        (await h.ExecAsync(StartStop(true))).AssertGood();
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertGood();
    }

    [Fact]
    public async Task Eject_on_a_removable_lu_is_prevented_then_allowed()
    {
        var (h, _) = await DiskHarness.SingleAsync(configure: d => d with { Removable = true });
        await using var _h = h;
        (await h.ExecAsync(PreventAllow(1))).AssertGood();
        (await h.ExecAsync(StartStop(false, loej: true))).AssertCheckCondition(SenseCodes.MediumRemovalPrevented);
        (await h.ExecAsync(PreventAllow(0))).AssertGood();
        (await h.ExecAsync(StartStop(false, loej: true))).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertCheckCondition(SenseCodes.MediumNotPresentTrayOpen);
        (await h.ExecAsync(StartStop(true, loej: true))).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task Eject_on_a_fixed_lu_is_invalid_and_power_conditions_are_accepted()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        (await h.ExecAsync(StartStop(false, loej: true))).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        (await h.ExecAsync(StartStop(false, power: 2))).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertGood(); // START ignored with a power condition
        (await h.ExecAsync(StartStop(false, power: 4))).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        (await h.ExecAsync(PreventAllow(2))).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }

    [Fact]
    public async Task Read_defect_data_is_an_empty_list()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r10 = await h.ExecAsync([0x37, 0, 0x0D, 0, 0, 0, 0, 0, 255, 0], 255);
        r10.AssertGood();
        Assert.Equal(4, r10.DataTransferLength);
        Assert.Equal(0x0D, r10.Data[1]);
        Assert.Equal(0, r10.Data[2] | r10.Data[3]);
        var r12 = await h.ExecAsync([0xB7, 0x0D, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0], 255);
        Assert.Equal(8, r12.DataTransferLength);
    }

    [Fact]
    public async Task Reset_ends_prevention()
    {
        var (h, _) = await DiskHarness.SingleAsync(configure: d => d with { Removable = true });
        await using var _h = h;
        (await h.ExecAsync(PreventAllow(1))).AssertGood();
        var reset = SrbPool.Shared.Rent();
        reset.Function = SrbFunction.ResetLogicalUnit;
        reset.Address = DiskHarness.Lun0;
        await h.Adapter.ExecuteAsync(reset);
        reset.Release();
        (await h.ExecAsync(StartStop(false, loej: true))).AssertGood();
    }
}
