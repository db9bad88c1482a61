using static StorSharp.Block.Tests.BlockAssert;

namespace StorSharp.Block.Tests;

public sealed class FileBlockDeviceTests : IDisposable
{
    private const BlockExtentFlags HoleZero = BlockExtentFlags.Hole | BlockExtentFlags.Zero;
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private string ImagePath => _directory.File("disk.img");

    [LinuxFact]
    public async Task A_created_image_has_the_size_asked_and_is_all_hole()
    {
        await using FileBlockDevice device = FileBlockDevice.Create(ImagePath, 64L << 30, 4096);

        Assert.Equal(64L << 30, new FileInfo(ImagePath).Length);
        Assert.Equal(new BlockGeometry(4096, (64L << 30) / 4096), device.Geometry);
        Assert.Equal([new BlockExtent(0, device.Geometry.BlockCount, HoleZero)], await Extents(device, 0, device.Geometry.BlockCount));
    }

    [LinuxFact]
    public async Task Capabilities_on_Linux_are_holes_zeroing_extents_and_flush_but_no_native_fua()
    {
        await using FileBlockDevice device = FileBlockDevice.Create(ImagePath, 1 << 20);

        Assert.Equal(
            BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes
            | BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ThinProvisioned
            | BlockDeviceCapabilities.MultiConnection,
            device.Capabilities);
    }

    [LinuxFact]
    public async Task Unmap_punches_a_hole_that_reads_as_zeros()
    {
        await using FileBlockDevice device = FileBlockDevice.Create(ImagePath, 4 << 20, 512);
        byte[] data = RandomBytes(2 << 20, seed: 1);
        await device.WriteAsync(0, data);
        Assert.Equal([new BlockExtent(0, 4096, BlockExtentFlags.Data)], await Extents(device, 0, 4096));

        await device.UnmapAsync(512, 1024); // bytes 256 KiB .. 768 KiB

        Assert.Equal(
        [
            new BlockExtent(0, 512, BlockExtentFlags.Data),
            new BlockExtent(512, 1024, HoleZero),
            new BlockExtent(1536, 2560, BlockExtentFlags.Data),
        ], await Extents(device, 0, 4096));
        Array.Clear(data, 256 << 10, 512 << 10);
        Assert.Equal(data, await Read(device, 0, 4096));
    }

    [LinuxFact]
    public async Task Extents_count_a_block_partly_in_a_hole_as_data_and_start_where_asked()
    {
        await using FileBlockDevice device = FileBlockDevice.Create(ImagePath, 1 << 20, 512);
        await device.WriteAsync(0, RandomBytes(64 << 10, seed: 2));

        await device.UnmapAsync(1, 126); // not file-system-block aligned: some of it stays allocated

        BlockExtent[] extents = await Extents(device, 3, 2045);
        CoverExactly(extents, 3, 2045);
        Assert.Equal(BlockExtentFlags.Data, FlagsAt(extents, 127));
        Assert.Equal(HoleZero, FlagsAt(extents, 128));
        AllZero(await Read(device, 1, 126));
    }

    [LinuxFact]
    public async Task Zeroing_without_unmap_reads_back_zeros_and_with_unmap_leaves_a_hole()
    {
        await using FileBlockDevice device = FileBlockDevice.Create(ImagePath, 4 << 20, 4096);
        byte[] data = RandomBytes(4 << 20, seed: 3);
        await device.WriteAsync(0, data);

        await device.WriteZeroesAsync(16, 32, WriteZeroesFlags.FastOnly | WriteZeroesFlags.ForceUnitAccess);
        await device.WriteZeroesAsync(256, 256, WriteZeroesFlags.MayUnmap | WriteZeroesFlags.FastOnly);

        Array.Clear(data, 16 * 4096, 32 * 4096);
        Array.Clear(data, 256 * 4096, 256 * 4096);
        Assert.Equal(data, await Read(device, 0, 1024));
        Assert.Equal(HoleZero, FlagsAt(await Extents(device, 0, 1024), 300));
    }

    [Fact]
    public async Task Data_survives_flush_close_and_reopen()
    {
        byte[] data = RandomBytes(3 * 4096, seed: 4);
        await using (FileBlockDevice device = FileBlockDevice.Create(ImagePath, 1 << 20, 4096))
        {
            await device.WriteAsync(100, data);
            await device.WriteAsync(255, data.AsMemory(0, 4096), BlockWriteFlags.ForceUnitAccess);
            await device.FlushAsync();
        }

        await using FileBlockDevice reopened = FileBlockDevice.Open(ImagePath, 4096);

        Assert.Equal(new BlockGeometry(4096, 256), reopened.Geometry);
        Assert.Equal(data, await Read(reopened, 100, 3));
        Assert.Equal(data[..4096], await Read(reopened, 255, 1));
    }

    [Fact]
    public async Task Create_refuses_an_existing_file_unless_told_to_overwrite_it()
    {
        await using (FileBlockDevice first = FileBlockDevice.Create(ImagePath, 1 << 20))
            await first.WriteAsync(0, RandomBytes(512, seed: 5));

        Assert.Throws<IOException>(() => FileBlockDevice.Create(ImagePath, 1 << 20));
        await using FileBlockDevice second = FileBlockDevice.Create(ImagePath, 2 << 20, overwrite: true);

        Assert.Equal(4096, second.Geometry.BlockCount);
        AllZero(await Read(second, 0, 1));
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(4096 + 512)]
    public async Task Opening_a_file_that_is_not_whole_blocks_is_a_clear_error(int length)
    {
        await File.WriteAllBytesAsync(ImagePath, new byte[length]);

        var e = Assert.Throws<BlockDeviceException>(() => FileBlockDevice.Open(ImagePath, 4096));

        Assert.Equal(BlockError.InvalidArgument, e.Error);
        Assert.Contains($"{length} bytes", e.Message);
        Assert.Contains("4096-byte blocks", e.Message);
        Assert.Contains(ImagePath, e.Message);
        // The handle was released: the file can be opened exclusively again.
        using var again = new FileStream(ImagePath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
    }

    [Fact]
    public async Task Opening_an_empty_file_is_a_clear_error()
    {
        await File.WriteAllBytesAsync(ImagePath, []);

        var e = Assert.Throws<BlockDeviceException>(() => FileBlockDevice.Open(ImagePath));

        Assert.Equal(BlockError.InvalidArgument, e.Error);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void Bad_block_sizes_and_sizes_are_refused_before_touching_the_disk()
    {
        Assert.Contains("512 or 4096", Assert.Throws<ArgumentException>(() => FileBlockDevice.Create(ImagePath, 1 << 20, 2048)).Message);
        Assert.Throws<ArgumentException>(() => FileBlockDevice.Create(ImagePath, 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => FileBlockDevice.Create(ImagePath, 0));
        Assert.Throws<ArgumentException>(() => FileBlockDevice.Open(ImagePath, 1024));
        Assert.False(File.Exists(ImagePath));
    }

    [Fact]
    public async Task A_read_only_open_reads_refuses_changes_and_lets_other_readers_in()
    {
        byte[] data = RandomBytes(4096, seed: 6);
        await using (FileBlockDevice writer = FileBlockDevice.Create(ImagePath, 1 << 20))
            await writer.WriteAsync(8, data);

        await using FileBlockDevice device = FileBlockDevice.Open(ImagePath, readOnly: true);
        await using FileBlockDevice otherReader = FileBlockDevice.Open(ImagePath, readOnly: true);

        Assert.True(device.Capabilities.HasFlag(BlockDeviceCapabilities.ReadOnly));
        Assert.False(device.Capabilities.HasFlag(BlockDeviceCapabilities.Unmap));
        await Fails(BlockError.ReadOnly, () => device.WriteAsync(0, new byte[512]));
        await Fails(BlockError.ReadOnly, () => device.UnmapAsync(8, 8));
        await Fails(BlockError.ReadOnly, () => device.WriteZeroesAsync(8, 8));
        await device.FlushAsync();
        Assert.Equal(data, await Read(otherReader, 8, 8));
    }

    [Fact]
    public async Task A_read_write_open_is_exclusive()
    {
        await using FileBlockDevice device = FileBlockDevice.Create(ImagePath, 1 << 20);

        Assert.Throws<IOException>(() => FileBlockDevice.Open(ImagePath));
    }

    [Fact]
    public async Task A_read_past_a_file_truncated_underneath_is_a_medium_error_not_garbage()
    {
        await using FileBlockDevice device = FileBlockDevice.Create(ImagePath, 1 << 20, 512);
        byte[] data = RandomBytes(1 << 20, seed: 7);
        await device.WriteAsync(0, data);

        RandomAccess.SetLength(device.Handle, 512 * 1000 + 100);

        BlockDeviceException e = await Fails(BlockError.MediumError, () => device.ReadAsync(999, new byte[2 * 512]));
        Assert.Contains("end of the file", e.Message);
        Assert.Equal(data[..(512 * 1000)], await Read(device, 0, 1000));
    }

    [Fact]
    public async Task After_dispose_the_handle_is_closed_and_requests_fail_not_ready()
    {
        FileBlockDevice device = FileBlockDevice.Create(ImagePath, 1 << 20);

        await device.DisposeAsync();

        Assert.True(device.Handle.IsClosed);
        await Fails(BlockError.NotReady, () => device.ReadAsync(0, new byte[512]));
        await Fails(BlockError.NotReady, () => device.WriteAsync(0, new byte[512]));
        await Fails(BlockError.NotReady, () => device.FlushAsync());
        using var again = new FileStream(ImagePath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
    }

    [LinuxFact]
    public async Task Unmap_zeroing_and_extents_after_dispose_fail_not_ready()
    {
        FileBlockDevice device = FileBlockDevice.Create(ImagePath, 1 << 20);
        await device.DisposeAsync();

        await Fails(BlockError.NotReady, () => device.UnmapAsync(0, 8));
        await Fails(BlockError.NotReady, () => device.WriteZeroesAsync(0, 8));
        await Fails(BlockError.NotReady, () => device.GetExtentsAsync(0, 8, new BlockExtent[2]));
    }

    [Fact]
    public void Os_errors_map_to_block_errors_and_keep_the_os_message()
    {
        int noSpace = OperatingSystem.IsWindows() ? unchecked((int)0x80070070) : 28;

        BlockDeviceException full = FileErrors.From(new IOException("No space left on device", noSpace), "Write", "/x.img");
        BlockDeviceException io = FileErrors.From(new IOException("Input/output error", 5), "Read", "/x.img");
        BlockDeviceException gone = FileErrors.From(new ObjectDisposedException("handle"), "Read", "/x.img");

        Assert.Equal(BlockError.NoSpace, full.Error);
        Assert.Contains("No space left on device", full.Message);
        Assert.Contains("/x.img", full.Message);
        Assert.Equal(BlockError.MediumError, io.Error);
        Assert.Contains("Input/output error", io.Message);
        Assert.IsType<IOException>(io.InnerException);
        Assert.Equal(BlockError.NotReady, gone.Error);
    }

    [LinuxFact]
    public void Errnos_map_to_block_errors_with_the_os_text()
    {
        BlockDeviceException full = FileErrors.FromErrno(28, "Unmap", "/x.img");
        BlockDeviceException io = FileErrors.FromErrno(5, "Unmap", "/x.img");

        Assert.Equal(BlockError.NoSpace, full.Error);
        Assert.Contains("No space left on device", full.Message);
        Assert.Equal(BlockError.MediumError, io.Error);
        Assert.Contains("errno 5", io.Message);
    }
}
