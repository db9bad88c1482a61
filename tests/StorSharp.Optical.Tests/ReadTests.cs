using StorSharp.Scsi;

namespace StorSharp.Optical.Tests;

public class ReadTests
{
    [Fact]
    public async Task Read_capacity_reports_2048_byte_sectors()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 100);
        var r = (await h.ExecAsync(Mmc.ReadCapacity(), 8)).AssertGood();
        Assert.Equal(99u, r.U32(0));
        Assert.Equal(2048u, r.U32(4));
    }

    [Fact]
    public async Task Read10_and_read12_return_the_image_bytes()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 64);
        var image = OpticalHarness.Pattern(64 * 2048, 1);
        var r10 = (await h.ExecAsync(Mmc.Read10(3, 5), 5 * 2048)).AssertGood();
        Assert.Equal(image.AsSpan(3 * 2048, 5 * 2048).ToArray(), r10.Data);
        var r12 = (await h.ExecAsync(Mmc.Read12(60, 4), 4 * 2048)).AssertGood();
        Assert.Equal(image.AsSpan(60 * 2048, 4 * 2048).ToArray(), r12.Data);
    }

    [Fact]
    public async Task Read_past_the_end_is_lba_out_of_range()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 64);
        (await h.ExecAsync(Mmc.Read10(63, 2), 2 * 2048)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        (await h.ExecAsync(Mmc.Read12(64, 1), 2048)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        (await h.ExecAsync(Mmc.Read10(63, 1), 2048)).AssertGood();
    }

    [Fact]
    public async Task Reserved_bits_in_read10_are_invalid_field_with_the_pointer()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var cdb = Mmc.Read10(0, 1);
        cdb[6] = 0x01; // group number: reserved in MMC-6
        (await h.ExecAsync(cdb, 2048)).AssertInvalidField(6, 0);
        cdb = Mmc.Read10(0, 1);
        cdb[1] = 0x02; // FUA_NV is not an MMC bit
        (await h.ExecAsync(cdb, 2048)).AssertInvalidField(1, 1);
    }

    [Fact]
    public async Task Writes_are_data_protect_write_protected()
    {
        await using var h = await OpticalHarness.CreateAsync();
        (await h.ExecAsync(Mmc.Write10(0, 1), dataOut: new byte[2048])).AssertCheckCondition(SenseCodes.WriteProtected);
        var again = (await h.ExecAsync(Mmc.Read10(0, 1), 2048)).AssertGood();
        Assert.Equal(OpticalHarness.Pattern(2048, 1), again.Data);
    }

    [Fact]
    public async Task Read_cd_user_data_equals_read10_on_a_cd()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 32);
        var viaRead = (await h.ExecAsync(Mmc.Read10(2, 3), 3 * 2048)).AssertGood();
        var viaCd = (await h.ExecAsync(Mmc.ReadCd(2, 3), 3 * 2048)).AssertGood();
        Assert.Equal(viaRead.Data, viaCd.Data);
        (await h.ExecAsync(Mmc.ReadCd(2, 3, sectorType: 2), 3 * 2048)).AssertGood();
        var nothing = (await h.ExecAsync(Mmc.ReadCd(0, 1, selection: 0), 0)).AssertGood();
        Assert.Equal(0, nothing.DataTransferLength);
    }

    [Fact]
    public async Task Read_cd_refuses_what_an_image_cannot_supply()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 32);
        (await h.ExecAsync(Mmc.ReadCd(0, 1, selection: 0xF8), 2352)).AssertInvalidField(9, 7);  // sync + headers + EDC
        (await h.ExecAsync(Mmc.ReadCd(0, 1, sectorType: 1), 2352)).AssertCheckCondition(SenseCodes.IllegalModeForThisTrack); // CD-DA
        (await h.ExecAsync(Mmc.ReadCd(31, 2), 4096)).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        await using var dvd = await OpticalHarness.CreateAsync(sectors: 32, profile: MmcProfile.DvdRom);
        (await dvd.ExecAsync(Mmc.ReadCd(0, 1), 2048)).AssertCheckCondition(SenseCodes.CannotReadMediumIncompatibleFormat);
    }

    [Fact]
    public async Task Get_performance_reports_one_read_descriptor_and_set_cd_speed_is_accepted()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 50);
        var r = (await h.ExecAsync(Mmc.GetPerformance(0x00), 8 + 4 * 16)).AssertGood();
        Assert.Equal(24, r.Data.Length);
        Assert.Equal(20u, r.U32(0));
        Assert.Equal(0u, r.U32(8));
        Assert.Equal(49u, r.U32(16));
        var write = (await h.ExecAsync(Mmc.GetPerformance(0x03), 8 + 4 * 16)).AssertGood();
        Assert.Equal(8, write.Data.Length);
        (await h.ExecAsync(Mmc.GetPerformance(0x05), 64)).AssertInvalidField(10);
        (await h.ExecAsync(Mmc.SetCdSpeed())).AssertGood();
    }

    [Fact]
    public async Task Synchronize_cache_is_good_with_nothing_to_flush()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 16);
        (await h.ExecAsync([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0])).AssertGood();
        (await h.ExecAsync([0x35, 0, 0, 0, 0, 16, 0, 0, 1, 0])).AssertCheckCondition(SenseCodes.LbaOutOfRange);
    }
}
