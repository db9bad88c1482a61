using System.Buffers;
using static StorSharp.Block.Tests.BlockAssert;

namespace StorSharp.Block.Tests;

/// <summary>The checked layer's own decisions: which emulation it picks, and what it refuses.</summary>
public sealed class CheckedBlockDeviceTests
{
    private const BlockDeviceCapabilities UnmapZeroes = BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes;

    /// <summary>An 8 MiB RAM disk under a recorder that advertises only <paramref name="capabilities"/>.</summary>
    private static (CheckedBlockDevice Device, RecordingBlockDevice Backend) Over(BlockDeviceCapabilities capabilities, int blockSize = 512)
    {
        var backend = new RecordingBlockDevice(new RamBlockDevice(8 << 20, blockSize), capabilities);
        return (new CheckedBlockDevice(backend), backend);
    }

    [Fact]
    public void Capabilities_add_the_emulated_ones_and_keep_read_only_devices_honest()
    {
        Assert.Equal(
            BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ForceUnitAccess,
            new CheckedBlockDevice(new MinimalBlockDevice(8, 512)).Capabilities);
        Assert.Equal(
            BlockDeviceCapabilities.ReadOnly | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ThinProvisioned
            | BlockDeviceCapabilities.MultiConnection | BlockDeviceCapabilities.NonRotational,
            new CheckedBlockDevice(new RamBlockDevice(1 << 20, readOnly: true)).Capabilities);
        Assert.Equal(
            BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ForceUnitAccess,
            Over(BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.UnmapReadsZeroes).Device.Capabilities);
    }

    [Theory]
    [InlineData(BlockDeviceCapabilities.Flush, new[] { "Write 0 1", "Flush" })]
    [InlineData(BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.ForceUnitAccess, new[] { "Write 0 1 FUA" })]
    [InlineData(BlockDeviceCapabilities.ForceUnitAccess, new[] { "Write 0 1 FUA" })]
    [InlineData(BlockDeviceCapabilities.None, new[] { "Write 0 1" })]
    public async Task Fua_is_native_or_a_write_then_a_flush_or_nothing_extra_when_nothing_is_cached(BlockDeviceCapabilities capabilities, string[] expected)
    {
        (CheckedBlockDevice device, RecordingBlockDevice backend) = Over(capabilities);

        await device.WriteAsync(0, new byte[512], BlockWriteFlags.ForceUnitAccess);

        Assert.Equal(expected, backend.Calls);
    }

    [Fact]
    public async Task Flush_and_unmap_without_the_capability_are_successful_no_ops()
    {
        (CheckedBlockDevice device, RecordingBlockDevice backend) = Over(BlockDeviceCapabilities.None);
        byte[] data = RandomBytes(4 * 512, seed: 1);
        await device.WriteAsync(8, data);
        backend.Clear();

        await device.FlushAsync();
        await device.UnmapAsync(8, 4);

        Assert.Empty(backend.Calls);
        Assert.Equal(data, await Read(device, 8, 4));
    }

    [Fact]
    public async Task Flush_and_unmap_with_the_capability_reach_the_backend()
    {
        (CheckedBlockDevice device, RecordingBlockDevice backend) = Over(BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.Unmap);

        await device.FlushAsync();
        await device.UnmapAsync(8, 4);

        Assert.Equal(["Flush", "Unmap 8 4"], backend.Calls);
    }

    [Theory]
    [InlineData(BlockDeviceCapabilities.WriteZeroes, WriteZeroesFlags.MayUnmap, new[] { "WriteZeroes 3 5 MayUnmap" })]
    [InlineData(BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.Flush, WriteZeroesFlags.ForceUnitAccess, new[] { "WriteZeroes 3 5", "Flush" })]
    [InlineData(BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.ForceUnitAccess, WriteZeroesFlags.ForceUnitAccess, new[] { "WriteZeroes 3 5 ForceUnitAccess" })]
    [InlineData(BlockDeviceCapabilities.WriteZeroes | UnmapZeroes, WriteZeroesFlags.MayUnmap | WriteZeroesFlags.FastOnly, new[] { "WriteZeroes 3 5 MayUnmap, FastOnly" })]
    [InlineData(UnmapZeroes, WriteZeroesFlags.MayUnmap, new[] { "Unmap 3 5" })]
    [InlineData(UnmapZeroes | BlockDeviceCapabilities.Flush, WriteZeroesFlags.MayUnmap | WriteZeroesFlags.ForceUnitAccess | WriteZeroesFlags.FastOnly, new[] { "Unmap 3 5", "Flush" })]
    [InlineData(UnmapZeroes, WriteZeroesFlags.None, new[] { "Write 3 5" })]
    [InlineData(BlockDeviceCapabilities.Unmap, WriteZeroesFlags.MayUnmap, new[] { "Write 3 5" })]
    [InlineData(BlockDeviceCapabilities.Flush, WriteZeroesFlags.ForceUnitAccess, new[] { "Write 3 5", "Flush" })]
    [InlineData(BlockDeviceCapabilities.ForceUnitAccess, WriteZeroesFlags.ForceUnitAccess, new[] { "Write 3 5 FUA" })]
    public async Task Zeroing_uses_the_fastest_exact_way_the_backend_offers(BlockDeviceCapabilities capabilities, WriteZeroesFlags flags, string[] expected)
    {
        (CheckedBlockDevice device, RecordingBlockDevice backend) = Over(capabilities);
        await device.WriteAsync(0, RandomBytes(16 * 512, seed: 2));
        backend.Clear();

        await device.WriteZeroesAsync(3, 5, flags);

        Assert.Equal(expected, backend.Calls);
        AllZero(await Read(device, 3, 5));
    }

    [Fact]
    public async Task Fast_only_zeroing_that_would_need_writes_is_refused_untouched()
    {
        (CheckedBlockDevice device, RecordingBlockDevice backend) = Over(BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.Flush);

        BlockDeviceException e = await Fails(BlockError.NotSupported, () => device.WriteZeroesAsync(3, 5, WriteZeroesFlags.FastOnly | WriteZeroesFlags.MayUnmap));

        Assert.Empty(backend.Calls);
        Assert.Contains("LBA 3", e.Message);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task Emulated_zeroing_writes_bounded_consecutive_chunks_over_exactly_the_range(int blockSize)
    {
        (CheckedBlockDevice device, RecordingBlockDevice backend) = Over(BlockDeviceCapabilities.Flush, blockSize);
        long chunkBlocks = (1 << 20) / blockSize;
        long lba = 7, count = 3 * chunkBlocks + 5;

        await device.WriteZeroesAsync(lba, count, WriteZeroesFlags.ForceUnitAccess);

        IReadOnlyList<string> calls = backend.Calls;
        Assert.Equal("Flush", calls[^1]);
        Assert.Single(calls, c => c == "Flush");
        long next = lba;
        foreach (string call in calls.Take(calls.Count - 1))
        {
            string[] parts = call.Split(' ');
            Assert.Equal("Write", parts[0]);
            Assert.Equal(next, long.Parse(parts[1]));
            long blocks = long.Parse(parts[2]);
            Assert.InRange(blocks, 1, chunkBlocks);
            next += blocks;
        }
        Assert.Equal(lba + count, next);
        Assert.Equal(5, calls.Count); // three full chunks, the rest, the flush
    }

    [Fact]
    public async Task Emulated_zeroing_writes_zeros_even_when_the_pool_hands_back_a_dirty_buffer()
    {
        (CheckedBlockDevice device, _) = Over(BlockDeviceCapabilities.None);
        await device.WriteAsync(0, RandomBytes(4096 * 512, seed: 3));
        for (int i = 0; i < 4; i++)
        {
            byte[] dirty = ArrayPool<byte>.Shared.Rent(ZeroWriter.MaxChunkBytes);
            Array.Fill(dirty, (byte)0xFF);
            ArrayPool<byte>.Shared.Return(dirty);
        }

        await device.WriteZeroesAsync(1, 4000);

        AllZero(await Read(device, 1, 4000));
        Assert.NotEqual(0, (await Read(device, 4001, 1))[0] | (await Read(device, 0, 1))[0]);
    }

    [Fact]
    public async Task Extents_without_a_native_map_are_one_data_extent()
    {
        var device = new CheckedBlockDevice(new MinimalBlockDevice(100, 512));
        var extents = new BlockExtent[4];

        Assert.Equal(1, await device.GetExtentsAsync(10, 90, extents));
        Assert.Equal(new BlockExtent(10, 90, BlockExtentFlags.Data), extents[0]);
    }

    [Fact]
    public async Task Extents_need_room_for_at_least_one_extent()
    {
        var device = new CheckedBlockDevice(new ScriptedExtentsDevice([new BlockExtent(0, 10, BlockExtentFlags.Data)]));

        await Fails(BlockError.InvalidArgument, () => device.GetExtentsAsync(0, 10, Memory<BlockExtent>.Empty));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Extents_reaching_past_the_range_are_cut_at_its_end(bool yields)
    {
        var device = new CheckedBlockDevice(new ScriptedExtentsDevice(
            [new BlockExtent(10, 5, BlockExtentFlags.Data), new BlockExtent(15, 100, BlockExtentFlags.Zero), new BlockExtent(115, 1, BlockExtentFlags.Data)],
            yields: yields));

        BlockExtent[] extents = await Extents(device, 10, 20);

        Assert.Equal([new BlockExtent(10, 5, BlockExtentFlags.Data), new BlockExtent(15, 15, BlockExtentFlags.Zero)], extents);
    }

    public static TheoryData<BlockExtent[], int?, bool> MalformedAnswers => new()
    {
        { [new BlockExtent(11, 5, BlockExtentFlags.Data)], null, false },                                                // wrong start
        { [new BlockExtent(10, 5, BlockExtentFlags.Data), new BlockExtent(16, 5, BlockExtentFlags.Data)], null, true }, // gap
        { [new BlockExtent(10, 0, BlockExtentFlags.Data)], null, false },                                                // empty extent
        { [new BlockExtent(10, 5, (BlockExtentFlags)8)], null, true },                                                   // unknown flag
        { [new BlockExtent(10, 5, BlockExtentFlags.Data)], 0, false },                                                   // no extent at all
        { [new BlockExtent(10, 5, BlockExtentFlags.Data)], 9, false },                                                   // more than the buffer holds
    };

    [Theory]
    [MemberData(nameof(MalformedAnswers))]
    public async Task A_malformed_extent_answer_is_a_medium_error(BlockExtent[] answer, int? reportedCount, bool yields)
    {
        var device = new CheckedBlockDevice(new ScriptedExtentsDevice(answer, reportedCount, yields));

        BlockDeviceException e = await Fails(BlockError.MediumError, () => device.GetExtentsAsync(10, 20, new BlockExtent[8]));

        Assert.Contains("malformed", e.Message);
    }

    [Fact]
    public async Task Unknown_flag_bits_are_invalid_arguments()
    {
        (CheckedBlockDevice device, RecordingBlockDevice backend) = Over(BlockDeviceCapabilities.WriteZeroes);

        await Fails(BlockError.InvalidArgument, () => device.WriteAsync(0, new byte[512], (BlockWriteFlags)2));
        await Fails(BlockError.InvalidArgument, () => device.WriteZeroesAsync(0, 1, (WriteZeroesFlags)8));

        Assert.Empty(backend.Calls);
    }

    [Fact]
    public async Task A_read_only_backend_is_never_asked_to_change_anything()
    {
        (CheckedBlockDevice device, RecordingBlockDevice backend) = Over(BlockDeviceCapabilities.ReadOnly | BlockDeviceCapabilities.Flush | UnmapZeroes);

        BlockDeviceException e = await Fails(BlockError.ReadOnly, () => device.WriteAsync(6, new byte[1024]));
        await Fails(BlockError.ReadOnly, () => device.UnmapAsync(0, 1));
        await Fails(BlockError.ReadOnly, () => device.WriteZeroesAsync(0, 1, WriteZeroesFlags.MayUnmap));
        await device.FlushAsync();

        Assert.Equal(["Flush"], backend.Calls);
        Assert.Contains("LBA 6", e.Message);
        Assert.Contains("2 block", e.Message);
    }

    [Fact]
    public async Task Disposing_disposes_the_backend_once_unless_told_to_leave_it_open()
    {
        var kept = new RamBlockDevice(1 << 20);
        await new CheckedBlockDevice(kept, leaveOpen: true).DisposeAsync();
        await kept.WriteAsync(0, new byte[512]);

        var owned = new RamBlockDevice(1 << 20);
        var device = new CheckedBlockDevice(owned);
        await device.DisposeAsync();
        await device.DisposeAsync();
        await Fails(BlockError.NotReady, () => owned.WriteAsync(0, new byte[512]));
    }

    [Fact]
    public void A_backend_with_an_unusable_geometry_is_refused()
    {
        Assert.Throws<ArgumentNullException>(() => new CheckedBlockDevice(null!));
        Assert.Throws<ArgumentException>(() => new CheckedBlockDevice(new ScriptedExtentsDevice([], geometry: new BlockGeometry(0, 10))));
    }

    [Fact]
    public void Reads_and_writes_over_a_synchronous_backend_allocate_nothing()
    {
        var device = new CheckedBlockDevice(new RamBlockDevice(1 << 20, 512));
        Memory<byte> buffer = RandomBytes(8 * 512, seed: 4);
        ReadOnlyMemory<byte> data = buffer;
        bool allSynchronous = true;
        for (int lba = 0; lba < 2048; lba += 8) // allocate every chunk and warm up the JIT
            allSynchronous &= Complete(device.WriteAsync(lba, data));

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++)
        {
            long lba = (i * 8) % 2048;
            allSynchronous &= Complete(device.WriteAsync(lba, data, BlockWriteFlags.ForceUnitAccess));
            allSynchronous &= Complete(device.ReadAsync(lba, buffer));
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allSynchronous);
        Assert.Equal(0, allocated);
    }

    private static bool Complete(ValueTask task)
    {
        bool done = task.IsCompletedSuccessfully;
        task.GetAwaiter().GetResult();
        return done;
    }
}
