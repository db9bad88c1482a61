using StorSharp.Scsi;

namespace StorSharp.Optical.Tests;

/// <summary>The commands Linux sr/cdrom and Windows cdrom.sys send when a drive appears and when they poll it, in order; none may fail.</summary>
public class HostSequenceTests
{
    [Fact]
    public async Task Linux_sr_probe_and_media_polling_succeed()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 400);
        var n = new Port.InitiatorNexus("iqn.linux", "t");
        (await h.ExecAsync(Mmc.Inquiry(36), 36, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ReportLuns(), 256, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.Inquiry(96), 96, nexus: n)).AssertGood();
        // sr's get_capabilities: TEST UNIT READY until no unit attention, then MODE SENSE(10) page 2Ah.
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.PowerOnReset);
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertGood();
        var caps = (await h.ExecAsync(Mmc.ModeSense10(0x2A, allocation: 128), 128, nexus: n)).AssertGood();
        Assert.True(caps.U16(0) + 2 <= 128 && caps.U16(6) == 0);
        (await h.ExecAsync(Mmc.ReadCapacity(), 8, nexus: n)).AssertGood();
        // cdrom: MRW and random-writable probes (features 0028h, 0020h) and the disc's profile.
        (await h.ExecAsync(Mmc.GetConfiguration(2, 0x0028, 16), 16, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.GetConfiguration(2, 0x0020, 16), 16, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.GetConfiguration(0, 0, 8), 8, nexus: n)).AssertGood();
        // sr_check_events: GESN media class, then TEST UNIT READY.
        (await h.ExecAsync(Mmc.Gesn(0x10), 8, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertGood();
        // cdrom_count_tracks and sr_cd_check (multisession through the control byte).
        (await h.ExecAsync(Mmc.ReadToc(0, allocation: 12), 12, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ReadToc(0, track: 1, allocation: 12), 12, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ReadToc(0, track: 0xAA, allocation: 12), 12, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ReadToc(0, allocation: 12, control: 0x40), 12, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ReadDiscInformation(), 34, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ReadTrackInformation(1, 1, 28), 28, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.PreventAllow(true), nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.Read10(0, 32), 32 * 2048, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.Read10(368, 32), 32 * 2048, nexus: n)).AssertGood();
    }

    [Fact]
    public async Task Windows_cdrom_startup_succeeds()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 400, profile: MmcProfile.DvdRom);
        var n = new Port.InitiatorNexus("iqn.windows", "t");
        (await h.ExecAsync(Mmc.Inquiry(36), 36, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.Inquiry(255, true, 0x00), 255, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.Inquiry(255, true, 0x83), 255, nexus: n)).AssertGood();
        // GET CONFIGURATION and GESN are answered under the power-on unit attention.
        var header = (await h.ExecAsync(Mmc.GetConfiguration(1, 0, 8), 8, nexus: n)).AssertGood();
        Assert.Equal(0x0010, header.U16(6));
        (await h.ExecAsync(Mmc.GetConfiguration(2, 0x0000, 256), 256, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.GetConfiguration(2, 0x0003, 16), 16, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.GetConfiguration(2, 0x0107, 16), 16, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.Gesn(0x7E), 8, nexus: n)).AssertGood();
        // The first command that is not exempt takes the unit attention; the class driver retries it.
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.PowerOnReset);
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ModeSense10(0x2A, allocation: 0x24), 0x24, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.MechanismStatus(), 8, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ReadCapacity(), 8, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ReadToc(0, msf: true, allocation: 804), 804, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.ReadDiscInformation(), 34, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.GetPerformance(0x00, 1), 24, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.SetCdSpeed(), nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.Read10(16, 1), 2048, nexus: n)).AssertGood();
    }
}
