using static StorSharp.Block.Tests.BlockAssert;

namespace StorSharp.Block.Tests;

public sealed class RamBlockDeviceTests
{
    private const int Chunk = 64 * 1024;
    private const long TwoTiB = 2L << 40;

    [Fact]
    public async Task A_2_TiB_disk_costs_almost_nothing_until_written_and_little_after()
    {
        // Allocations of this thread only: other tests running in parallel cannot disturb it.
        long start = GC.GetAllocatedBytesForCurrentThread();
        var disk = new RamBlockDevice(TwoTiB, 512);
        long created = GC.GetAllocatedBytesForCurrentThread() - start;

        Assert.Equal(0, disk.AllocatedBytes);
        Assert.True(created < 64 * 1024, $"creating the disk allocated {created} bytes");

        long last = disk.Geometry.BlockCount - 1;
        byte[] tail = RandomBytes(8 * 512, seed: 1);
        byte[] head = RandomBytes(512, seed: 2);
        long beforeWrites = GC.GetAllocatedBytesForCurrentThread();
        await disk.WriteAsync(last - 7, tail);
        await disk.WriteAsync(0, head);
        long written = GC.GetAllocatedBytesForCurrentThread() - beforeWrites;

        Assert.Equal(2 * Chunk, disk.AllocatedBytes);
        // Two 64 KiB chunks and two 128 KiB leaves of the directory: well under a megabyte.
        Assert.InRange(written, 2 * Chunk, 1 << 20);
        Assert.Equal(tail, await Read(disk, last - 7, 8));
        Assert.Equal(head, await Read(disk, 0, 1));
        AllZero(await Read(disk, last - 200, 193));
    }

    [Fact]
    public void Geometry_follows_the_size_and_block_size()
    {
        Assert.Equal(new BlockGeometry(4096, TwoTiB / 4096), new RamBlockDevice(TwoTiB, 4096).Geometry);
        Assert.Equal(new BlockGeometry(512, 1L << 32), RamBlockDevice.WithBlockCount(1L << 32).Geometry);
        Assert.Equal(new BlockGeometry(4096, 3), RamBlockDevice.WithBlockCount(3, 4096).Geometry);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1024)]
    [InlineData(520)]
    [InlineData(-512)]
    public void Block_sizes_other_than_512_and_4096_are_refused(int blockSize)
    {
        var e = Assert.Throws<ArgumentException>(() => new RamBlockDevice(1 << 20, blockSize));
        Assert.Contains("512 or 4096", e.Message);
        Assert.Equal("blockSize", e.ParamName);
    }

    [Fact]
    public void Sizes_must_be_positive_whole_blocks_up_to_1_PiB()
    {
        Assert.Contains("whole number of 4096-byte blocks", Assert.Throws<ArgumentException>(() => new RamBlockDevice(4096 + 512, 4096)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RamBlockDevice(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RamBlockDevice(-4096, 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RamBlockDevice(2L << 50));
        Assert.Throws<ArgumentOutOfRangeException>(() => RamBlockDevice.WithBlockCount(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RamBlockDevice.WithBlockCount(long.MaxValue / 2, 4096));
        Assert.Equal(1L << 50, new RamBlockDevice(1L << 50, 4096).Geometry.SizeBytes);
    }

    [Fact]
    public void Capabilities_are_what_RAM_really_does()
    {
        Assert.Equal(
            BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.WriteZeroes
            | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ThinProvisioned
            | BlockDeviceCapabilities.MultiConnection | BlockDeviceCapabilities.NonRotational,
            new RamBlockDevice(1 << 20).Capabilities);
        Assert.Equal(
            BlockDeviceCapabilities.ReadOnly | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ThinProvisioned
            | BlockDeviceCapabilities.MultiConnection | BlockDeviceCapabilities.NonRotational,
            new RamBlockDevice(1 << 20, readOnly: true).Capabilities);
    }

    [Fact]
    public async Task A_read_only_disk_refuses_changes_and_reads_zeros()
    {
        var disk = new RamBlockDevice(1 << 20, 4096, readOnly: true);

        await Fails(BlockError.ReadOnly, () => disk.WriteAsync(0, new byte[4096]));
        await Fails(BlockError.ReadOnly, () => disk.UnmapAsync(0, 1));
        await Fails(BlockError.ReadOnly, () => disk.WriteZeroesAsync(0, 1));
        AllZero(await Read(disk, 0, 256));
        Assert.Equal(0, disk.AllocatedBytes);
    }

    [Fact]
    public async Task Unmap_frees_whole_chunks_and_zeroes_partial_ones()
    {
        var disk = new RamBlockDevice(1 << 20, 4096); // 16 blocks per chunk
        byte[] data = RandomBytes(4 * Chunk, seed: 3);
        await disk.WriteAsync(32, data); // chunks 2..5
        Assert.Equal(4 * Chunk, disk.AllocatedBytes);

        await disk.UnmapAsync(48, 24); // all of chunk 3, first half of chunk 4

        Assert.Equal(3 * Chunk, disk.AllocatedBytes);
        Array.Clear(data, 16 * 4096, 24 * 4096);
        Assert.Equal(data, await Read(disk, 32, 64));

        await disk.UnmapAsync(0, disk.Geometry.BlockCount);
        Assert.Equal(0, disk.AllocatedBytes);
        AllZero(await Read(disk, 0, disk.Geometry.BlockCount));
    }

    [Fact]
    public async Task Zeroing_frees_chunks_only_when_allowed_to_unmap()
    {
        var disk = new RamBlockDevice(1 << 20, 512); // 128 blocks per chunk
        await disk.WriteAsync(0, RandomBytes(2 * Chunk, seed: 4));

        await disk.WriteZeroesAsync(0, 128);
        Assert.Equal(2 * Chunk, disk.AllocatedBytes);
        AllZero(await Read(disk, 0, 128));

        await disk.WriteZeroesAsync(128, 128, WriteZeroesFlags.MayUnmap);
        Assert.Equal(Chunk, disk.AllocatedBytes);
        AllZero(await Read(disk, 0, 256));

        await disk.WriteZeroesAsync(512, 1024);
        Assert.Equal(Chunk, disk.AllocatedBytes); // never-written chunks are not allocated just to hold zeros
    }

    [Fact]
    public async Task Extents_show_chunks_as_data_or_holes_merged_with_their_neighbours()
    {
        var disk = new RamBlockDevice(1 << 20, 4096); // 16 blocks per chunk, 16 chunks
        await disk.WriteAsync(16, new byte[4096]);     // chunk 1, even though it holds zeros
        await disk.WriteAsync(47, new byte[2 * 4096]); // chunks 2 and 3
        await disk.WriteAsync(255, new byte[4096]);    // chunk 15

        BlockExtent[] extents = await Extents(disk, 3, 253);

        const BlockExtentFlags hole = BlockExtentFlags.Hole | BlockExtentFlags.Zero;
        Assert.Equal(
        [
            new BlockExtent(3, 13, hole),
            new BlockExtent(16, 48, BlockExtentFlags.Data),
            new BlockExtent(64, 176, hole),
            new BlockExtent(240, 16, BlockExtentFlags.Data),
        ], extents);
    }

    [Fact]
    public async Task Extents_stop_at_a_full_destination_with_a_prefix_of_the_range()
    {
        var disk = new RamBlockDevice(1 << 20, 4096);
        await disk.WriteAsync(16, new byte[4096]);
        await disk.WriteAsync(48, new byte[4096]);
        var destination = new BlockExtent[2];

        int count = await disk.GetExtentsAsync(0, 256, destination);

        Assert.Equal(2, count);
        Assert.Equal([new BlockExtent(0, 16, BlockExtentFlags.Hole | BlockExtentFlags.Zero), new BlockExtent(16, 16, BlockExtentFlags.Data)], destination);
    }

    [Fact]
    public async Task Extents_of_an_empty_2_TiB_disk_are_one_hole()
    {
        var disk = new RamBlockDevice(TwoTiB, 512);
        await disk.WriteAsync(0, new byte[512]);
        await disk.UnmapAsync(0, 1 << 20);

        BlockExtent[] extents = await Extents(disk, 1, disk.Geometry.BlockCount - 1);

        Assert.Equal([new BlockExtent(1, disk.Geometry.BlockCount - 1, BlockExtentFlags.Hole | BlockExtentFlags.Zero)], extents);
    }

    [Fact]
    public async Task Writers_racing_to_allocate_the_same_chunk_all_land_in_it()
    {
        for (int trial = 0; trial < 20; trial++)
        {
            var disk = new RamBlockDevice(1 << 20, 512);
            var start = new TaskCompletionSource();
            Task[] writers = Enumerable.Range(0, 128).Select(block => Task.Run(async () =>
            {
                await start.Task;
                await disk.WriteAsync(block, RandomBytes(512, seed: trial * 1000 + block));
            })).ToArray();

            start.SetResult();
            await Task.WhenAll(writers);

            Assert.Equal(Chunk, disk.AllocatedBytes);
            for (int block = 0; block < 128; block++)
                Assert.Equal(RandomBytes(512, seed: trial * 1000 + block), await Read(disk, block, 1));
        }
    }

    [Fact]
    public async Task It_checks_ranges_itself_when_used_without_the_checked_layer()
    {
        var disk = new RamBlockDevice(1 << 20, 512);

        await Fails(BlockError.OutOfRange, () => disk.ReadAsync(2048, new byte[512]));
        await Fails(BlockError.OutOfRange, () => disk.WriteAsync(long.MaxValue, new byte[512]));
        await Fails(BlockError.OutOfRange, () => disk.UnmapAsync(1, long.MaxValue));
        await Fails(BlockError.OutOfRange, () => disk.WriteZeroesAsync(-1, 1));
        await Fails(BlockError.OutOfRange, () => disk.GetExtentsAsync(2047, 2, new BlockExtent[4]));
        await Fails(BlockError.InvalidArgument, () => disk.WriteAsync(0, new byte[100]));
        Assert.Equal(0, disk.AllocatedBytes);
    }

    [Fact]
    public async Task Dispose_gives_the_memory_back_and_later_requests_fail_not_ready()
    {
        var disk = new RamBlockDevice(1 << 20, 512);
        await disk.WriteAsync(0, new byte[4 * Chunk]);

        await disk.DisposeAsync();
        await disk.DisposeAsync();

        Assert.Equal(0, disk.AllocatedBytes);
        await Fails(BlockError.NotReady, () => disk.ReadAsync(0, new byte[512]));
        await Fails(BlockError.NotReady, () => disk.WriteAsync(0, new byte[512]));
        await Fails(BlockError.NotReady, () => disk.GetExtentsAsync(0, 1, new BlockExtent[1]));
    }

    [Fact]
    public async Task A_cancelled_request_does_nothing()
    {
        var disk = new RamBlockDevice(1 << 20, 512);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await disk.WriteAsync(0, new byte[512], cancellationToken: cancelled.Token));

        Assert.Equal(0, disk.AllocatedBytes);
    }
}
