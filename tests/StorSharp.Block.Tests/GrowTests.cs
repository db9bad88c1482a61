namespace StorSharp.Block.Tests;

/// <summary>Growing a device while it is open (a LUN resized at run time): RAM, file, and through <see cref="CheckedBlockDevice"/>.</summary>
public sealed class GrowTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static async Task AssertGrowsKeepingData(IResizableBlockDevice device, long from, long to)
    {
        Assert.True(device.CanGrow);
        var data = Enumerable.Range(0, 512).Select(i => (byte)(i * 5 + 1)).ToArray();
        await device.WriteAsync(from - 1, data);

        await device.GrowAsync(to);

        Assert.Equal(to, device.Geometry.BlockCount);
        var back = new byte[512];
        await device.ReadAsync(from - 1, back);
        Assert.Equal(data, back);
        await device.ReadAsync(to - 1, back);
        Assert.All(back, b => Assert.Equal(0, b));
        await device.WriteAsync(to - 1, data);
        await device.ReadAsync(to - 1, back);
        Assert.Equal(data, back);
        var beyond = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(to, back).AsTask());
        Assert.Equal(BlockError.OutOfRange, beyond.Error);
    }

    [Fact]
    public async Task A_ram_disk_grows_past_its_chunk_directory_and_keeps_its_data()
    {
        await using var ram = new RamBlockDevice(1 << 20);
        await AssertGrowsKeepingData(ram, 2048, (3L << 30) / 512); // 1 MiB -> 3 GiB: three leaves instead of one
    }

    [LinuxFact]
    public async Task A_file_grows_on_disk_and_keeps_its_data()
    {
        var path = _directory.File("grow.img");
        await using var file = FileBlockDevice.Create(path, 1 << 20);
        await AssertGrowsKeepingData(file, 2048, 8192);
        Assert.Equal(8192 * 512, new FileInfo(path).Length);
    }

    [Fact]
    public async Task The_checked_layer_passes_growth_on_and_checks_ranges_against_the_new_size()
    {
        await using var checkedRam = new CheckedBlockDevice(new RamBlockDevice(1 << 20));
        await AssertGrowsKeepingData(checkedRam, 2048, 4096);
    }

    [Fact]
    public async Task Shrinking_the_same_size_a_read_only_device_and_a_backend_that_cannot_grow_are_refused_without_a_change()
    {
        await using var ram = new RamBlockDevice(1 << 20);
        Assert.Equal(BlockError.InvalidArgument, (await Assert.ThrowsAsync<BlockDeviceException>(() => ram.GrowAsync(1024).AsTask())).Error);
        Assert.Equal(BlockError.InvalidArgument, (await Assert.ThrowsAsync<BlockDeviceException>(() => ram.GrowAsync(2048).AsTask())).Error);
        Assert.Equal(2048, ram.Geometry.BlockCount);

        await using var readOnly = new RamBlockDevice(1 << 20, readOnly: true);
        Assert.False(readOnly.CanGrow);
        Assert.Equal(BlockError.ReadOnly, (await Assert.ThrowsAsync<BlockDeviceException>(() => readOnly.GrowAsync(4096).AsTask())).Error);

        await using var minimal = new CheckedBlockDevice(new MinimalBlockDevice(2048, 512));
        Assert.False(minimal.CanGrow);
        Assert.Equal(BlockError.NotSupported, (await Assert.ThrowsAsync<BlockDeviceException>(() => minimal.GrowAsync(4096).AsTask())).Error);
        Assert.Equal(2048, minimal.Geometry.BlockCount);
    }
}
