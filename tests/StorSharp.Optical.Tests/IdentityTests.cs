using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Optical.Tests;

public class IdentityTests
{
    [Fact]
    public async Task Inquiry_reports_a_removable_cd_dvd_device_claiming_mmc6()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var r = (await h.ExecAsync(Mmc.Inquiry(96), 96)).AssertGood();
        Assert.Equal(0x05, r.Data[0]);          // qualifier 000b, type 05h
        Assert.Equal(0x80, r.Data[1] & 0x80);   // RMB
        Assert.Equal(0, r.Data[5] & 0x08);      // no copy manager (3PC)
        Assert.Equal("Virtual DVD-ROM ", System.Text.Encoding.ASCII.GetString(r.Data, 16, 16));
        Assert.Equal(OpticalMiniport.Mmc6VersionDescriptor, r.U16(62));
    }

    [Fact]
    public async Task Vpd_pages_are_00_80_83_only()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var r = (await h.ExecAsync(Mmc.Inquiry(255, true, 0x00), 255)).AssertGood();
        Assert.Equal(0x05, r.Data[0]);
        Assert.Equal([0x00, 0x80, 0x83], r.Data[4..(4 + r.Data[3])]);
        var serial = (await h.ExecAsync(Mmc.Inquiry(255, true, 0x80), 255)).AssertGood();
        Assert.Equal("DVD0001", System.Text.Encoding.ASCII.GetString(serial.Data, 4, serial.Data[3]));
        (await h.ExecAsync(Mmc.Inquiry(255, true, 0x83), 255)).AssertGood();
        (await h.ExecAsync(Mmc.Inquiry(255, true, 0xB0), 255)).AssertInvalidField(2);
    }

    [Fact]
    public async Task Report_luns_and_request_sense_come_from_the_shared_device_server()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var luns = (await h.ExecAsync(Mmc.ReportLuns(), 256)).AssertGood();
        Assert.Equal(8u, luns.U32(0));
        var sense = (await h.ExecAsync(Mmc.RequestSense(), 252)).AssertGood();
        Assert.True(SenseData.TryParse(sense.Data, out var info));
        Assert.Equal(SenseCodes.NoSense, info.Code);
    }

    [Fact]
    public async Task Disk_only_commands_are_unknown_opcodes()
    {
        await using var h = await OpticalHarness.CreateAsync();
        // MODE SELECT(6), READ(16), WRITE SAME(10), READ CAPACITY(16): not MMC commands here.
        foreach (var cdb in new byte[][] { [0x15, 0x10, 0, 0, 0, 0], new byte[16] { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }, [0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0], [0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0] })
        {
            var r = await h.ExecAsync(cdb, 512);
            var info = r.AssertCheckCondition(SenseCodes.InvalidCommandOperationCode);
            Assert.Equal(0, info.Specific.Field);
        }
    }

    [Fact]
    public async Task Registration_refuses_one_drive_at_two_addresses_and_two_drives_at_one()
    {
        var drive = new OpticalDrive();
        Assert.Throws<ArgumentException>(() => OpticalMiniport.CreateRegistration([new(new ScsiAddress(0, 0, 0), drive), new(new ScsiAddress(0, 0, 1), drive)]));
        Assert.Throws<ArgumentException>(() => OpticalMiniport.CreateRegistration([new(new ScsiAddress(0, 0, 0), drive), new(new ScsiAddress(0, 0, 0), new OpticalDrive())]));
    }

    [Fact]
    public async Task A_disc_needs_a_block_size_that_divides_2048()
    {
        await using var big = new Block.RamBlockDevice(8 * 4096, 4096);
        Assert.Throws<ArgumentException>(() => new OpticalDisc(big));
        await using var tiny = new Block.RamBlockDevice(1024, 512);
        Assert.Throws<ArgumentException>(() => new OpticalDisc(tiny));
    }

    [Fact]
    public void Profile_is_cd_rom_up_to_an_80_minute_cd_and_dvd_rom_above()
    {
        var small = new SizedDevice(OpticalDisc.MaxCdSectors * 4);
        Assert.Equal(MmcProfile.CdRom, new OpticalDisc(small).Profile);
        var large = new SizedDevice((OpticalDisc.MaxCdSectors + 1) * 4);
        Assert.Equal(MmcProfile.DvdRom, new OpticalDisc(large).Profile);
        Assert.Equal(MmcProfile.DvdRom, new OpticalDisc(small, MmcProfile.DvdRom).Profile);
        Assert.Equal(OpticalDisc.MaxCdSectors, new OpticalDisc(new SizedDevice(OpticalDisc.MaxCdSectors * 4 + 3)).Sectors); // a partial sector is not readable
    }

    /// <summary>A device that only has a size (the profile rule never reads).</summary>
    private sealed class SizedDevice(long blocks) : Block.IBlockDevice
    {
        public Block.BlockGeometry Geometry => new(512, blocks);
        public Block.BlockDeviceCapabilities Capabilities => Block.BlockDeviceCapabilities.ReadOnly;
        public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, Block.BlockWriteFlags flags = default, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
        public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public ValueTask WriteZeroesAsync(long lba, long blockCount, Block.WriteZeroesFlags flags = default, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<Block.BlockExtent> destination, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
