using StorSharp.Scsi;

namespace StorSharp.Optical.Tests;

public class MediaChangeTests
{
    private const byte MediaClass = 0x10;

    [Fact]
    public async Task Empty_drive_with_the_tray_closed_is_not_ready_tray_closed()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: null);
        (await h.ExecAsync(Mmc.TestUnitReady())).AssertCheckCondition(SenseCodes.MediumNotPresentTrayClosed);
        (await h.ExecAsync(Mmc.ReadCapacity(), 8)).AssertCheckCondition(SenseCodes.MediumNotPresentTrayClosed);
        (await h.ExecAsync(Mmc.ReadToc(0), 1024)).AssertCheckCondition(SenseCodes.MediumNotPresentTrayClosed);
        (await h.ExecAsync(Mmc.StartStop(loej: false, start: true))).AssertCheckCondition(SenseCodes.MediumNotPresentTrayClosed);
    }

    [Fact]
    public async Task Eject_while_locked_is_refused_then_allowed_after_allow()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var n = await h.NexusAsync("linux");
        (await h.ExecAsync(Mmc.PreventAllow(true), nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.StartStop(loej: true, start: false), nexus: n)).AssertCheckCondition(SenseCodes.MediumRemovalPrevented);
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.PreventAllow(false), nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.StartStop(loej: true, start: false), nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.MediumNotPresentTrayOpen);
    }

    [Fact]
    public async Task Another_nexus_lock_also_refuses_the_eject()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var a = await h.NexusAsync("a");
        var b = await h.NexusAsync("b");
        (await h.ExecAsync(Mmc.PreventAllow(true), nexus: a)).AssertGood();
        (await h.ExecAsync(Mmc.StartStop(loej: true, start: false), nexus: b)).AssertCheckCondition(SenseCodes.MediumRemovalPrevented);
    }

    [Fact]
    public async Task Host_eject_then_load_gives_the_other_nexuses_unit_attention_28_00_then_ready()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var n = await h.NexusAsync("host");
        var other = await h.NexusAsync("other");
        (await h.ExecAsync(Mmc.StartStop(loej: true, start: false), nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.MediumNotPresentTrayOpen);
        var mech = (await h.ExecAsync(Mmc.MechanismStatus(), 8, nexus: n)).AssertGood();
        Assert.Equal(0x10, mech.Data[1] & 0x10); // door open
        (await h.ExecAsync(Mmc.StartStop(loej: true, start: true), nexus: n)).AssertGood();
        // The loading nexus knows (libiscsi's StartStopUnit.Simple expects TEST UNIT READY to be GOOD); the other is told.
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: other)).AssertCheckCondition(SenseCodes.NotReadyToReadyChange);
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: other)).AssertGood();
        var events = (await h.ExecAsync(Mmc.Gesn(0x10), 8, nexus: n)).AssertGood();
        Assert.Equal(3, events.Data[4]); // MediaRemoval, then
        events = (await h.ExecAsync(Mmc.Gesn(0x10), 8, nexus: n)).AssertGood();
        Assert.Equal(2, events.Data[4]); // NewMedia, for the loading nexus too
        mech = (await h.ExecAsync(Mmc.MechanismStatus(), 8, nexus: n)).AssertGood();
        Assert.Equal(0, mech.Data[1] & 0x10);
    }

    [Fact]
    public async Task Management_eject_then_insert_changes_the_disc_with_unit_attention()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 64);
        var n = await h.NexusAsync("host");
        Assert.True(h.Drive.EjectMedia());
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.MediumNotPresentTrayOpen);
        h.Drive.InsertMedia(await OpticalHarness.ImageAsync(10, seed: 9));
        (await h.ExecAsync(Mmc.ReadCapacity(), 8, nexus: n)).AssertCheckCondition(SenseCodes.NotReadyToReadyChange);
        var cap = (await h.ExecAsync(Mmc.ReadCapacity(), 8, nexus: n)).AssertGood();
        Assert.Equal(9u, cap.U32(0));
        var data = (await h.ExecAsync(Mmc.Read10(0, 1), 2048, nexus: n)).AssertGood();
        Assert.Equal(OpticalHarness.Pattern(2048, 9), data.Data);
    }

    [Fact]
    public async Task Gesn_reports_removal_then_new_media_once_each()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var n = await h.NexusAsync("poller");
        var r = (await h.ExecAsync(Mmc.Gesn(MediaClass), 8, nexus: n)).AssertGood();
        Assert.Equal((6, 4, EventStatusCommand.SupportedClasses), (r.U16(0), r.Data[2], r.Data[3]));
        Assert.Equal((0, 0x02), (r.Data[4], r.Data[5])); // no change, media present
        h.Drive.EjectMedia();
        r = (await h.ExecAsync(Mmc.Gesn(MediaClass), 8, nexus: n)).AssertGood();
        Assert.Equal((3, 0x01), (r.Data[4], r.Data[5])); // MediaRemoval, tray open
        h.Drive.InsertMedia(await OpticalHarness.ImageAsync(8));
        // GESN is answered while the 28/00 unit attention is pending, and leaves it pending.
        r = (await h.ExecAsync(Mmc.Gesn(MediaClass), 8, nexus: n)).AssertGood();
        Assert.Equal((2, 0x02), (r.Data[4], r.Data[5])); // NewMedia, present
        r = (await h.ExecAsync(Mmc.Gesn(MediaClass), 8, nexus: n)).AssertGood();
        Assert.Equal(0, r.Data[4]);
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.NotReadyToReadyChange);
    }

    [Fact]
    public async Task Management_eject_of_a_locked_disc_becomes_an_eject_request_event()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var n = await h.NexusAsync("windows");
        (await h.ExecAsync(Mmc.PreventAllow(true), nexus: n)).AssertGood();
        Assert.False(h.Drive.EjectMedia());
        var r = (await h.ExecAsync(Mmc.Gesn(MediaClass), 8, nexus: n)).AssertGood();
        Assert.Equal(1, r.Data[4]); // EjectRequest
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertGood();
        Assert.Throws<InvalidOperationException>(() => h.Drive.InsertMedia(new OpticalDisc(new Block.RamBlockDevice(4096, 512))));
        Assert.True(h.Drive.EjectMedia(force: true));
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.MediumNotPresentTrayOpen);
    }

    [Fact]
    public async Task Gesn_classes_nea_and_polling_rules()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var nea = (await h.ExecAsync(Mmc.Gesn(0x08), 8)).AssertGood(); // external request class: not supported
        Assert.Equal(4, nea.Data.Length);
        Assert.Equal((2, 0x80), (nea.U16(0), nea.Data[2]));
        var power = (await h.ExecAsync(Mmc.Gesn(0x04), 8)).AssertGood();
        Assert.Equal((2, 0, 1), (power.Data[2], power.Data[4], power.Data[5])); // class 2, no change, active
        var op = (await h.ExecAsync(Mmc.Gesn(0x02 | 0x10), 8)).AssertGood();
        Assert.Equal(1, op.Data[2]); // lowest requested class when nothing is pending
        h.Drive.EjectMedia();
        var media = (await h.ExecAsync(Mmc.Gesn(0x02 | 0x10), 8)).AssertGood();
        Assert.Equal((4, 3), (media.Data[2], media.Data[4])); // the class with an event wins
        (await h.ExecAsync(Mmc.Gesn(0x10, polled: false), 8)).AssertInvalidField(1, 0);
    }

    [Fact]
    public async Task Power_conditions_are_accepted_and_leave_the_disc_alone()
    {
        await using var h = await OpticalHarness.CreateAsync();
        (await h.ExecAsync(Mmc.StartStop(loej: true, start: false, powerCondition: 3))).AssertGood();
        (await h.ExecAsync(Mmc.TestUnitReady())).AssertGood();
        (await h.ExecAsync(Mmc.StartStop(loej: false, start: false))).AssertGood();
        (await h.ExecAsync(Mmc.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task Lu_reset_ends_the_lock()
    {
        await using var h = await OpticalHarness.CreateAsync();
        (await h.ExecAsync(Mmc.PreventAllow(true))).AssertGood();
        Assert.True(h.Drive.IsRemovalPrevented);
        var reset = Port.SrbPool.Shared.Rent();
        reset.Function = Port.SrbFunction.ResetLogicalUnit;
        reset.Address = OpticalHarness.Lun0;
        await h.Adapter.ExecuteAsync(reset);
        reset.Release();
        Assert.False(h.Drive.IsRemovalPrevented);
    }
}
