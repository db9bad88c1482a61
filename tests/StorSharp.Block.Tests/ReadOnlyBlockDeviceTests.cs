using static StorSharp.Block.Tests.BlockAssert;

namespace StorSharp.Block.Tests;

public sealed class ReadOnlyBlockDeviceTests
{
    [Fact]
    public void Capabilities_add_read_only_and_drop_what_only_writers_use()
    {
        var inner = new RecordingBlockDevice(new RamBlockDevice(1 << 20), BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.ForceUnitAccess
            | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.WriteZeroes
            | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.NonRotational);

        Assert.Equal(
            BlockDeviceCapabilities.ReadOnly | BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.NonRotational,
            new ReadOnlyBlockDevice(inner).Capabilities);
    }

    [Fact]
    public async Task Changes_are_refused_without_reaching_the_inner_device()
    {
        var inner = new RecordingBlockDevice(new RamBlockDevice(1 << 20));
        var device = new ReadOnlyBlockDevice(inner);

        BlockDeviceException e = await Fails(BlockError.ReadOnly, () => device.WriteAsync(3, new byte[1024], BlockWriteFlags.ForceUnitAccess));
        await Fails(BlockError.ReadOnly, () => device.UnmapAsync(3, 2));
        await Fails(BlockError.ReadOnly, () => device.WriteZeroesAsync(3, 2));

        Assert.Empty(inner.Calls);
        Assert.Contains("LBA 3", e.Message);
        Assert.Contains("2 block", e.Message);
    }

    [Fact]
    public async Task Reads_extents_and_flushes_pass_through()
    {
        var ram = new RamBlockDevice(1 << 20);
        byte[] data = RandomBytes(1024, seed: 1);
        await ram.WriteAsync(3, data);
        var inner = new RecordingBlockDevice(ram, ram.Capabilities | BlockDeviceCapabilities.Flush);
        var device = new ReadOnlyBlockDevice(inner);

        Assert.Equal(data, await Read(device, 3, 2));
        Assert.Equal(BlockExtentFlags.Data, (await Extents(device, 0, 16))[0].Flags);
        await device.FlushAsync();

        Assert.Equal(["Read 3 2", "GetExtents 0 16", "Flush"], inner.Calls);
        Assert.Equal(ram.Geometry, device.Geometry);
    }

    [Fact]
    public async Task Disposing_disposes_the_inner_device_unless_told_to_leave_it_open()
    {
        var kept = new RamBlockDevice(1 << 20);
        await new ReadOnlyBlockDevice(kept, leaveOpen: true).DisposeAsync();
        await kept.WriteAsync(0, new byte[512]);

        var owned = new RamBlockDevice(1 << 20);
        await new ReadOnlyBlockDevice(owned).DisposeAsync();
        await Fails(BlockError.NotReady, () => owned.ReadAsync(0, new byte[512]));
    }
}
