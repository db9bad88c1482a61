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
        Assert.Equal(8 + 12 + 12 + 32, all.Data.Length);
        Assert.Equal((0x01, 0x0A, 0x2A), (all.Data[8], all.Data[20], all.Data[32]));
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

    [Fact]
    public async Task Control_page_d_sense_switches_the_drive_to_descriptor_sense_and_tells_the_other_nexuses()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var a = await h.NexusAsync("a");
        var b = await h.NexusAsync("b");
        var control = (await h.ExecAsync(Mmc.ModeSense10(0x0A), 256, nexus: a)).AssertGood().Data;
        Assert.Equal((0x0A, 10), (control[8], control[9]));
        control[0] = control[1] = 0;
        control[8 + 2] |= 0x04; // D_SENSE
        (await h.ExecAsync(Mmc.ModeSelect10(control.Length), dataOut: control, nexus: a)).AssertGood();
        var r = await h.ExecAsync(Mmc.Read10(64, 1), 2048, nexus: a);
        Assert.Equal(0x72, r.Sense[0]); // descriptor format
        Assert.Equal(SenseCodes.LbaOutOfRange, r.SenseInfo.Code);
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: b)).AssertCheckCondition(SenseCodes.ModeParametersChanged);
    }
}
