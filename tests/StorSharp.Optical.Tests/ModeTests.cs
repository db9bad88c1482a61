using StorSharp.Scsi;

namespace StorSharp.Optical.Tests;

public class ModeTests
{
    [Fact]
    public async Task Page_2a_reports_tray_eject_lock_and_the_lock_state()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var r = (await h.ExecAsync(Mmc.ModeSense10(0x2A), 128)).AssertGood();
        Assert.Equal(r.Data.Length - 2, r.U16(0));
        Assert.Equal(0, r.U16(6)); // no block descriptors
        Assert.Equal(0x80, r.Data[3]); // WP: a read-only disc
        var page = r.Data[8..];
        Assert.Equal((0x2A, 30), (page[0], page[1]));
        Assert.Equal(0x08, page[2] & 0x08); // DVD-ROM read
        Assert.Equal(0x29, page[6]);        // tray, eject, lock; not locked
        (await h.ExecAsync(Mmc.PreventAllow(true))).AssertGood();
        r = (await h.ExecAsync(Mmc.ModeSense10(0x2A), 128)).AssertGood();
        Assert.Equal(0x2B, r.Data[8 + 6]);  // lock state
    }

    [Fact]
    public async Task Mode_sense6_answers_the_same_pages_with_the_short_header()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var ten = (await h.ExecAsync(Mmc.ModeSense10(0x3F), 255)).AssertGood();
        var six = (await h.ExecAsync([0x1A, 0, 0x3F, 0, 255, 0], 255)).AssertGood();
        Assert.Equal(six.Data.Length - 1, six.Data[0]);
        Assert.Equal((0x80, 0), (six.Data[2], six.Data[3]));
        Assert.Equal(ten.Data[8..], six.Data[4..]);
    }

    [Fact]
    public async Task All_pages_and_the_page_control_rules()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var all = (await h.ExecAsync(Mmc.ModeSense10(0x3F), 256)).AssertGood();
        Assert.Equal(8 + 12 + 32, all.Data.Length);
        Assert.Equal((0x01, 0x2A), (all.Data[8], all.Data[20]));
        var changeable = (await h.ExecAsync(Mmc.ModeSense10(0x01, pc: 1), 256)).AssertGood();
        Assert.Equal(0xFF, changeable.Data[8 + 3]);
        (await h.ExecAsync(Mmc.ModeSense10(0x01, pc: 3), 256)).AssertCheckCondition(SenseCodes.SavingParametersNotSupported);
        (await h.ExecAsync(Mmc.ModeSense10(0x08), 256)).AssertInvalidField(2, 5);
    }

    [Fact]
    public async Task Mode_select_changes_the_read_retry_count_and_refuses_other_bits()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var current = (await h.ExecAsync(Mmc.ModeSense10(0x01), 256)).AssertGood().Data;
        var list = (byte[])current.Clone();
        list[0] = list[1] = 0;
        list[8 + 3] = 0x05;
        (await h.ExecAsync(Mmc.ModeSelect10(list.Length), dataOut: list)).AssertGood();
        var after = (await h.ExecAsync(Mmc.ModeSense10(0x01), 256)).AssertGood();
        Assert.Equal(0x05, after.Data[8 + 3]);

        var caps = (await h.ExecAsync(Mmc.ModeSense10(0x2A), 256)).AssertGood().Data;
        caps[0] = caps[1] = 0;
        caps[8 + 2] ^= 0x20; // claim DVD-RAM reading: not changeable
        var bad = await h.ExecAsync(Mmc.ModeSelect10(caps.Length), dataOut: caps);
        var info = bad.AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);
        Assert.Equal((10, 5), (info.Specific.Field, info.Specific.BitPointer));
        (await h.ExecAsync(Mmc.ModeSelect10(list.Length, sp: true), dataOut: list)).AssertInvalidField(1, 0);
        (await h.ExecAsync(Mmc.ModeSelect10(list.Length), dataOut: list[..10])).AssertCheckCondition(SenseCodes.ParameterListLengthError);
    }
}
