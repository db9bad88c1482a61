using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class MediumTests
{
    private static byte[] StartStop(bool start, bool loej = false, int power = 0, bool noFlush = false) =>
        [0x1B, 0, 0, 0, (byte)((power << 4) | (noFlush ? 4 : 0) | (loej ? 2 : 0) | (start ? 1 : 0)), 0];

    private static byte[] PreventAllow(int prevent) => [0x1E, 0, 0, 0, (byte)prevent, 0];

    [Fact]
    public async Task Stop_flushes_but_leaves_the_medium_accessible()
    {
        // libiscsi StartStopUnit.NoLoej: TEST UNIT READY is GOOD after a stop without LOEJ.
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        int flushes = dev.FlushCount;
        (await h.ExecAsync(StartStop(false))).AssertGood();
        Assert.Equal(flushes + 1, dev.FlushCount);
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertGood();
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertGood();
        (await h.ExecAsync(StartStop(false, noFlush: true))).AssertGood();
        Assert.Equal(flushes + 1, dev.FlushCount);
    }

    [Fact]
    public async Task Every_power_condition_is_accepted_and_keeps_the_medium()
    {
        // libiscsi StartStopUnit.PwrCnd sends POWER CONDITION 1h..Fh with LOEJ=1, START=0.
        var (h, _) = await DiskHarness.SingleAsync(configure: d => d with { Removable = true });
        await using var _h = h;
        for (int pc = 1; pc < 16; pc++)
        {
            (await h.ExecAsync(StartStop(false, loej: true, power: pc))).AssertGood();
            (await h.ExecAsync(Cdbs.TestUnitReady())).AssertGood();
        }
    }

    [Fact]
    public async Task Load_is_refused_while_removal_is_prevented()
    {
        // libiscsi PreventAllow.Eject: with PREVENT set, loading answers MEDIUM REMOVAL PREVENTED too.
        var (h, _) = await DiskHarness.SingleAsync(configure: d => d with { Removable = true });
        await using var _h = h;
        (await h.ExecAsync(StartStop(false, loej: true))).AssertGood();
        (await h.ExecAsync(PreventAllow(1))).AssertGood();
        (await h.ExecAsync(StartStop(true, loej: true))).AssertCheckCondition(SenseCodes.MediumRemovalPrevented);
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertCheckCondition(SenseCodes.MediumNotPresentTrayOpen);
        (await h.ExecAsync(PreventAllow(0))).AssertGood();
        (await h.ExecAsync(StartStop(true, loej: true))).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertGood();
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
    public async Task Eject_on_a_fixed_lu_is_invalid_and_power_conditions_are_ignored()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        (await h.ExecAsync(StartStop(false, loej: true))).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        (await h.ExecAsync(StartStop(false, power: 2))).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertGood(); // START ignored with a power condition
        (await h.ExecAsync(StartStop(false, power: 4))).AssertGood();
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
