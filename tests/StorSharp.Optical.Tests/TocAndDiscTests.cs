using StorSharp.Scsi;

namespace StorSharp.Optical.Tests;

public class TocAndDiscTests
{
    [Fact]
    public async Task Toc_format_0_lists_track_1_and_the_lead_out_in_lba_and_msf()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 1000);
        var r = (await h.ExecAsync(Mmc.ReadToc(0), 1024)).AssertGood();
        Assert.Equal(20, r.Data.Length);
        Assert.Equal(18, r.U16(0));
        Assert.Equal((1, 1), (r.Data[2], r.Data[3]));
        Assert.Equal((0x14, 1), (r.Data[5], r.Data[6]));
        Assert.Equal(0u, r.U32(8));
        Assert.Equal(0xAA, r.Data[14]);
        Assert.Equal(1000u, r.U32(16));
        var msf = (await h.ExecAsync(Mmc.ReadToc(0, msf: true), 1024)).AssertGood();
        Assert.Equal([0, 0, 2, 0], msf.Data[8..12]);          // LBA 0 = 00:02:00
        Assert.Equal([0, 0, 15, 25], msf.Data[16..20]);       // 1150 frames = 00:15:25
        var leadOutOnly = (await h.ExecAsync(Mmc.ReadToc(0, track: 0xAA), 1024)).AssertGood();
        Assert.Equal(12, leadOutOnly.Data.Length);
        Assert.Equal(0xAA, leadOutOnly.Data[6]);
        (await h.ExecAsync(Mmc.ReadToc(0, track: 2), 1024)).AssertInvalidField(6);
    }

    [Fact]
    public async Task Toc_format_1_is_one_session_also_through_the_legacy_control_byte_format()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var r = (await h.ExecAsync(Mmc.ReadToc(1), 12)).AssertGood();
        Assert.Equal(10, r.U16(0));
        Assert.Equal((1, 1), (r.Data[2], r.Data[3]));
        Assert.Equal(1, r.Data[6]);
        Assert.Equal(0u, r.U32(8));
        // Linux sr's multisession probe: format 0 in byte 2, 01b in the control byte's bits 7-6.
        var legacy = (await h.ExecAsync(Mmc.ReadToc(0, allocation: 12, control: 0x40), 12)).AssertGood();
        Assert.Equal(r.Data, legacy.Data);
    }

    [Fact]
    public async Task Toc_format_2_is_the_raw_toc_in_msf()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 1000);
        var r = (await h.ExecAsync(Mmc.ReadToc(2), 1024)).AssertGood();
        Assert.Equal(4 + 4 * 11, r.Data.Length);
        Assert.Equal(2 + 4 * 11, r.U16(0));
        var points = Enumerable.Range(0, 4).Select(i => r.Data[4 + i * 11 + 3]).ToArray();
        Assert.Equal(new byte[] { 0xA0, 0xA1, 0xA2, 0x01 }, points);
        Assert.Equal([0, 15, 25], r.Data[(4 + 2 * 11 + 8)..(4 + 2 * 11 + 11)]);  // lead-out
        Assert.Equal([0, 2, 0], r.Data[(4 + 3 * 11 + 8)..(4 + 3 * 11 + 11)]);   // track 1
    }

    [Fact]
    public async Task Toc_formats_without_data_on_a_rom_disc_are_invalid_field()
    {
        await using var h = await OpticalHarness.CreateAsync();
        (await h.ExecAsync(Mmc.ReadToc(3), 1024)).AssertInvalidField(2, 3);
        (await h.ExecAsync(Mmc.ReadToc(4), 1024)).AssertInvalidField(2, 3);
        (await h.ExecAsync(Mmc.ReadToc(0x10), 1024)).AssertInvalidField(2, 4); // reserved bit outside FORMAT
    }

    [Fact]
    public async Task Disc_information_is_a_complete_one_session_disc()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var r = (await h.ExecAsync(Mmc.ReadDiscInformation(), 34)).AssertGood();
        Assert.Equal(32, r.U16(0));
        Assert.Equal(0x0E, r.Data[2]);
        Assert.Equal(new byte[] { 1, 1, 1, 1 }, r.Data[3..7]);
        (await h.ExecAsync(Mmc.ReadDiscInformation(dataType: 1), 34)).AssertInvalidField(1, 2);
    }

    [Fact]
    public async Task Track_information_by_track_session_and_lba()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 77);
        foreach (var (type, value) in new[] { (1, 1u), (2, 1u), (0, 76u) })
        {
            var r = (await h.ExecAsync(Mmc.ReadTrackInformation(type, value), 48)).AssertGood();
            Assert.Equal(46, r.U16(0));
            Assert.Equal(1, r.Data[2]);
            Assert.Equal(0x04, r.Data[5] & 0x0F);
            Assert.Equal(77u, r.U32(24));
        }
        (await h.ExecAsync(Mmc.ReadTrackInformation(1, 2), 48)).AssertInvalidField(2);
        (await h.ExecAsync(Mmc.ReadTrackInformation(0, 77), 48)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        (await h.ExecAsync(Mmc.ReadTrackInformation(3, 0), 48)).AssertInvalidField(1, 1);
    }

    private static byte[] ReadDiscStructure(byte format, byte layer = 0, int allocation = 4 + 2048, byte mediaType = 0) =>
        [0xAD, mediaType, 0, 0, 0, 0, layer, format, (byte)(allocation >> 8), (byte)allocation, 0, 0];

    [Fact]
    public async Task Dvd_structure_physical_format_and_copyright()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 100, profile: MmcProfile.DvdRom);
        var r = (await h.ExecAsync(ReadDiscStructure(0x00), 4 + 2048)).AssertGood();
        Assert.Equal(2050, r.U16(0));
        Assert.Equal(0x01, r.Data[4]);              // DVD-ROM, part version 1
        Assert.Equal(0x030000u, r.U32(8));
        Assert.Equal(0x030000u + 99, r.U32(12));
        var copyright = (await h.ExecAsync(ReadDiscStructure(0x01, allocation: 8), 8)).AssertGood();
        Assert.Equal(new byte[] { 0, 6, 0, 0, 0, 0, 0, 0 }, copyright.Data);
        (await h.ExecAsync(ReadDiscStructure(0x04), 2052)).AssertInvalidField(7);
        (await h.ExecAsync(ReadDiscStructure(0x00, layer: 1), 2052)).AssertInvalidField(6);
        (await h.ExecAsync(ReadDiscStructure(0x00, mediaType: 1), 2052)).AssertInvalidField(1, 3);
        await using var cd = await OpticalHarness.CreateAsync(sectors: 100);
        (await cd.ExecAsync(ReadDiscStructure(0x00), 2052)).AssertCheckCondition(SenseCodes.CannotReadMediumIncompatibleFormat);
    }
}
