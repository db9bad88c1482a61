using static StorSharp.Block.Tests.BlockAssert;

namespace StorSharp.Block.Tests;

/// <summary>
/// What every backend must do once wrapped in a <see cref="CheckedBlockDevice"/>. Each backend
/// gets a subclass; the backend sits under a <see cref="RecordingBlockDevice"/>, so tests can see
/// which calls reached it, and any call outside its declared capabilities fails the test.
/// </summary>
public abstract class BlockDeviceContractTests : IAsyncLifetime
{
    /// <summary>8 MiB: many 64 KiB RAM chunks and several 1 MiB zeroing chunks.</summary>
    protected const long DeviceBytes = 8L << 20;

    private RecordingBlockDevice? _backend;
    private CheckedBlockDevice? _device;

    protected abstract int BlockSize { get; }

    /// <summary>Builds a fresh, never-written backend of <see cref="DeviceBytes"/> bytes.</summary>
    protected abstract IBlockDevice CreateBackend();

    /// <summary>Removes whatever the backend left behind, after it was disposed.</summary>
    protected virtual void Cleanup()
    {
    }

    public RecordingBlockDevice Backend => _backend!;

    public CheckedBlockDevice Device => _device!;

    private long BlockCount => DeviceBytes / BlockSize;

    /// <summary>Blocks per RAM chunk: straddling this boundary exercises the chunk splitting.</summary>
    private long ChunkBlocks => 65536 / BlockSize;

    private long MiBBlocks => (1 << 20) / BlockSize;

    private bool BackendHas(BlockDeviceCapabilities capability) => (Backend.Capabilities & capability) == capability;

    public Task InitializeAsync()
    {
        _backend = new RecordingBlockDevice(CreateBackend());
        _device = new CheckedBlockDevice(_backend);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_device is not null)
            await _device.DisposeAsync();
        Cleanup();
    }

    [Fact]
    public void Geometry_is_the_backends()
    {
        Assert.Equal(BlockSize, Device.Geometry.LogicalBlockSize);
        Assert.Equal(BlockCount, Device.Geometry.BlockCount);
        Assert.Equal(DeviceBytes, Device.Geometry.SizeBytes);
    }

    [Fact]
    public void Capabilities_include_what_is_emulated()
    {
        BlockDeviceCapabilities always = BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ForceUnitAccess;
        Assert.Equal(always, Device.Capabilities & always);
        Assert.Equal(BackendHas(BlockDeviceCapabilities.Unmap), Device.Capabilities.HasFlag(BlockDeviceCapabilities.Unmap));
        Assert.False(Device.Capabilities.HasFlag(BlockDeviceCapabilities.ReadOnly));
    }

    public static TheoryData<string> Placements => new()
    {
        "first block", "last block", "across a 64 KiB boundary", "across a 1 MiB boundary", "over many chunks",
    };

    private (long Lba, long Count) Place(string where) => where switch
    {
        "first block" => (0, 1),
        "last block" => (BlockCount - 1, 1),
        "across a 64 KiB boundary" => (ChunkBlocks - 1, 2),
        "across a 1 MiB boundary" => (MiBBlocks - 3, 7),
        "over many chunks" => (3 * ChunkBlocks + 1, 5 * ChunkBlocks + 3),
        _ => throw new ArgumentOutOfRangeException(nameof(where)),
    };

    [Theory]
    [MemberData(nameof(Placements))]
    public async Task Written_data_reads_back_and_leaves_neighbours_alone(string where)
    {
        (long lba, long count) = Place(where);
        byte[] data = RandomBytes((int)count * BlockSize, seed: (int)lba + 1);

        await Device.WriteAsync(lba, data);

        Assert.Equal(data, await Read(Device, lba, count));
        if (lba > 0)
            AllZero(await Read(Device, lba - 1, 1));
        if (lba + count < BlockCount)
            AllZero(await Read(Device, lba + count, 1));
    }

    [Fact]
    public async Task Reads_may_straddle_written_and_never_written_blocks()
    {
        long lba = 2 * ChunkBlocks - 2;
        byte[] data = RandomBytes(2 * BlockSize, seed: 7);
        await Device.WriteAsync(lba, data);

        byte[] read = await Read(Device, lba - ChunkBlocks, ChunkBlocks + 2 + ChunkBlocks);

        int at = (int)ChunkBlocks * BlockSize;
        AllZero(read.AsSpan(0, at));
        Assert.Equal(data, read.AsSpan(at, data.Length).ToArray());
        AllZero(read.AsSpan(at + data.Length));
    }

    [Fact]
    public async Task Overwriting_part_of_a_range_replaces_only_that_part()
    {
        byte[] first = RandomBytes(4 * (int)ChunkBlocks * BlockSize, seed: 11);
        byte[] second = RandomBytes(3 * BlockSize, seed: 12);
        await Device.WriteAsync(0, first);

        await Device.WriteAsync(ChunkBlocks - 1, second);

        second.CopyTo(first, (ChunkBlocks - 1) * BlockSize);
        Assert.Equal(first, await Read(Device, 0, 4 * ChunkBlocks));
    }

    [Fact]
    public async Task Never_written_blocks_read_as_zeros()
    {
        AllZero(await Read(Device, 0, 2 * MiBBlocks));
        AllZero(await Read(Device, BlockCount - MiBBlocks, MiBBlocks));
    }

    private IEnumerable<(long Lba, long Count)> OutOfRangeRanges() =>
    [
        (long.MaxValue, 1),
        (long.MaxValue, long.MaxValue),
        (long.MaxValue - 1, 2),          // lba + count overflows
        (2, long.MaxValue - 1),          // lba + count overflows
        (1, long.MaxValue),
        (BlockCount, 1),                 // one past the end
        (BlockCount - 1, 2),             // runs over the end
        (0, BlockCount + 1),
        (BlockCount + 1, 0),             // even a zero-length request must start inside
        (long.MaxValue / 512 + 1, 1),    // the byte offset would overflow
        (-1, 1),
        (-1, 0),
        (long.MinValue, 1),
    ];

    [Fact]
    public async Task Out_of_range_block_counts_fail_before_reaching_the_backend()
    {
        var extents = new BlockExtent[4];
        foreach ((long lba, long count) in OutOfRangeRanges())
        {
            foreach (Func<ValueTask> request in new Func<ValueTask>[]
            {
                () => Device.UnmapAsync(lba, count),
                () => Device.WriteZeroesAsync(lba, count),
                () => Device.WriteZeroesAsync(lba, count, WriteZeroesFlags.MayUnmap | WriteZeroesFlags.FastOnly),
                async () => await Device.GetExtentsAsync(lba, count, extents),
            })
            {
                BlockDeviceException e = await Fails(BlockError.OutOfRange, request);
                Assert.Contains($"LBA {lba}", e.Message);
                Assert.Contains($"{count} block", e.Message);
                Assert.Contains($"{BlockCount} blocks", e.Message);
            }
        }
        Assert.Empty(Backend.Calls);
    }

    [Fact]
    public async Task Out_of_range_transfers_fail_before_reaching_the_backend()
    {
        foreach ((long lba, long count) in OutOfRangeRanges().Where(r => r.Count is > 0 and <= 2))
        {
            var buffer = new byte[count * BlockSize];
            BlockDeviceException read = await Fails(BlockError.OutOfRange, () => Device.ReadAsync(lba, buffer));
            BlockDeviceException write = await Fails(BlockError.OutOfRange, () => Device.WriteAsync(lba, buffer, BlockWriteFlags.ForceUnitAccess));
            Assert.Contains($"LBA {lba}", read.Message);
            Assert.Contains($"{BlockCount} blocks", write.Message);
        }
        Assert.Empty(Backend.Calls);
    }

    [Fact]
    public async Task Errors_come_back_through_the_task_not_from_the_call()
    {
        ValueTask read = Device.ReadAsync(-1, new byte[BlockSize]);
        ValueTask<int> extents = Device.GetExtentsAsync(BlockCount, 1, new BlockExtent[1]);

        Assert.True(read.IsFaulted);
        Assert.True(extents.IsFaulted);
        await Fails(BlockError.OutOfRange, () => read);
        await Fails(BlockError.OutOfRange, () => extents);
    }

    [Fact]
    public async Task Negative_counts_are_invalid_arguments()
    {
        await Fails(BlockError.InvalidArgument, () => Device.UnmapAsync(0, -1));
        await Fails(BlockError.InvalidArgument, () => Device.WriteZeroesAsync(0, long.MinValue));
        await Fails(BlockError.InvalidArgument, () => Device.GetExtentsAsync(0, -1, new BlockExtent[1]));
        Assert.Empty(Backend.Calls);
    }

    [Fact]
    public async Task Buffers_that_are_not_whole_blocks_are_invalid_arguments()
    {
        foreach (int length in new[] { 1, BlockSize - 1, BlockSize + 1, 3 * BlockSize + 100 })
        {
            var buffer = new byte[length];
            BlockDeviceException read = await Fails(BlockError.InvalidArgument, () => Device.ReadAsync(0, buffer));
            await Fails(BlockError.InvalidArgument, () => Device.WriteAsync(0, buffer));
            Assert.Contains($"{length} bytes", read.Message);
        }
        Assert.Empty(Backend.Calls);
    }

    [Fact]
    public async Task Zero_length_requests_succeed_without_reaching_the_backend()
    {
        await Device.ReadAsync(0, Memory<byte>.Empty);
        await Device.ReadAsync(BlockCount, Memory<byte>.Empty);
        await Device.WriteAsync(BlockCount, ReadOnlyMemory<byte>.Empty, BlockWriteFlags.ForceUnitAccess);
        await Device.UnmapAsync(5, 0);
        await Device.WriteZeroesAsync(BlockCount, 0, WriteZeroesFlags.FastOnly);
        Assert.Equal(0, await Device.GetExtentsAsync(0, 0, new BlockExtent[1]));

        Assert.Empty(Backend.Calls);
    }

    public static TheoryData<WriteZeroesFlags> ZeroingFlags => new()
    {
        WriteZeroesFlags.None,
        WriteZeroesFlags.MayUnmap,
        WriteZeroesFlags.ForceUnitAccess,
        WriteZeroesFlags.MayUnmap | WriteZeroesFlags.ForceUnitAccess,
    };

    [Theory]
    [MemberData(nameof(ZeroingFlags))]
    public async Task Zeroed_blocks_read_as_zeros_and_their_neighbours_keep_their_data(WriteZeroesFlags flags)
    {
        long regionBlocks = 4 * ChunkBlocks;
        byte[] data = RandomBytes((int)regionBlocks * BlockSize, seed: 21);
        await Device.WriteAsync(0, data);
        // Partial chunk, two whole chunks, partial chunk.
        long lba = ChunkBlocks / 2, count = 2 * ChunkBlocks + ChunkBlocks / 2 + 1;

        await Device.WriteZeroesAsync(lba, count, flags);

        byte[] read = await Read(Device, 0, regionBlocks);
        Array.Clear(data, (int)(lba * BlockSize), (int)(count * BlockSize));
        Assert.Equal(data, read);
    }

    [Fact]
    public async Task Zeroing_blocks_never_written_leaves_them_zero()
    {
        await Device.WriteZeroesAsync(BlockCount - 3 * MiBBlocks, 3 * MiBBlocks, WriteZeroesFlags.ForceUnitAccess);

        AllZero(await Read(Device, BlockCount - 3 * MiBBlocks - 1, 3 * MiBBlocks + 1));
    }

    [Theory]
    [InlineData(WriteZeroesFlags.FastOnly)]
    [InlineData(WriteZeroesFlags.FastOnly | WriteZeroesFlags.MayUnmap)]
    public async Task Fast_only_zeroing_is_done_fast_or_refused(WriteZeroesFlags flags)
    {
        byte[] data = RandomBytes(4 * BlockSize, seed: 31);
        await Device.WriteAsync(10, data);
        Backend.Clear();
        bool fast = BackendHas(BlockDeviceCapabilities.WriteZeroes)
            || ((flags & WriteZeroesFlags.MayUnmap) != 0 && BackendHas(BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes));

        if (fast)
        {
            await Device.WriteZeroesAsync(10, 4, flags);
            AllZero(await Read(Device, 10, 4));
        }
        else
        {
            await Fails(BlockError.NotSupported, () => Device.WriteZeroesAsync(10, 4, flags));
            Assert.Empty(Backend.Calls);
            Assert.Equal(data, await Read(Device, 10, 4));
        }
    }

    [Fact]
    public async Task Unmapped_blocks_read_as_zeros_when_declared_and_unmap_is_harmless_otherwise()
    {
        byte[] data = RandomBytes(3 * (int)ChunkBlocks * BlockSize, seed: 41);
        await Device.WriteAsync(0, data);
        long lba = ChunkBlocks / 2, count = 2 * ChunkBlocks;

        await Device.UnmapAsync(lba, count);

        byte[] read = await Read(Device, 0, 3 * ChunkBlocks);
        if (Device.Capabilities.HasFlag(BlockDeviceCapabilities.UnmapReadsZeroes))
            Array.Clear(data, (int)(lba * BlockSize), (int)(count * BlockSize));
        else
            Assert.False(BackendHas(BlockDeviceCapabilities.Unmap), "a backend that unmaps should declare what unmapped blocks read as");
        Assert.Equal(data, read);
    }

    [Fact]
    public async Task Extents_cover_exactly_the_requested_range_and_written_blocks_are_data()
    {
        long written = 2 * ChunkBlocks + 1;
        await Device.WriteAsync(written, RandomBytes(3 * BlockSize, seed: 51));
        await Device.WriteAsync(BlockCount - 1, RandomBytes(BlockSize, seed: 52));

        foreach ((long lba, long count) in new[]
        {
            (0L, BlockCount),
            (written + 1, 5L),                         // starts inside the data
            (ChunkBlocks / 2 + 1, 3 * ChunkBlocks),    // starts inside a hole, ends in another
            (BlockCount - 1, 1L),
            (BlockCount - 2 * MiBBlocks - 3, 2 * MiBBlocks + 3),
        })
        {
            BlockExtent[] extents = await Extents(Device, lba, count);
            CoverExactly(extents, lba, count);
            for (long block = Math.Max(lba, written); block < Math.Min(lba + count, written + 3); block++)
                Assert.Equal(BlockExtentFlags.Data, FlagsAt(extents, block));
            if (lba + count == BlockCount)
                Assert.Equal(BlockExtentFlags.Data, FlagsAt(extents, BlockCount - 1));
        }
    }

    [Fact]
    public async Task Extents_of_a_never_written_device_say_zero_when_the_backend_keeps_a_map()
    {
        BlockExtent[] extents = await Extents(Device, 0, BlockCount);

        CoverExactly(extents, 0, BlockCount);
        if (BackendHas(BlockDeviceCapabilities.Extents))
            Assert.All(extents, e => Assert.True(e.Flags.HasFlag(BlockExtentFlags.Zero), $"{e} should read as zeros"));
        else
            Assert.Equal([new BlockExtent(0, BlockCount, BlockExtentFlags.Data)], extents);
    }

    [Fact]
    public async Task Unmapped_space_shows_as_a_hole_when_the_backend_keeps_a_map()
    {
        await Device.WriteAsync(0, RandomBytes(2 * (int)MiBBlocks * BlockSize, seed: 61));

        await Device.UnmapAsync(MiBBlocks / 2, MiBBlocks);

        BlockExtent[] extents = await Extents(Device, 0, 2 * MiBBlocks);
        CoverExactly(extents, 0, 2 * MiBBlocks);
        Assert.Equal(BlockExtentFlags.Data, FlagsAt(extents, 0));
        Assert.Equal(BlockExtentFlags.Data, FlagsAt(extents, 2 * MiBBlocks - 1));
        BlockExtentFlags middle = FlagsAt(extents, MiBBlocks);
        if (BackendHas(BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.Unmap))
            Assert.Equal(BlockExtentFlags.Hole | BlockExtentFlags.Zero, middle);
        else
            Assert.Equal(BlockExtentFlags.Data, middle);
    }

    [Fact]
    public async Task A_fua_write_reads_back_and_is_flushed_unless_the_backend_does_fua_itself()
    {
        byte[] data = RandomBytes(5 * BlockSize, seed: 71);

        await Device.WriteAsync(ChunkBlocks - 2, data, BlockWriteFlags.ForceUnitAccess);

        Assert.Equal(data, await Read(Device, ChunkBlocks - 2, 5));
        string write = $"Write {ChunkBlocks - 2} 5";
        IReadOnlyList<string> calls = Backend.Calls;
        if (BackendHas(BlockDeviceCapabilities.ForceUnitAccess))
            Assert.Equal(write + " FUA", calls[0]);
        else if (BackendHas(BlockDeviceCapabilities.Flush))
            Assert.Equal([write, "Flush"], calls.Take(2));
        else
            Assert.Equal(write, calls[0]);
    }

    [Fact]
    public async Task Flush_reaches_the_backend_only_when_it_caches()
    {
        await Device.WriteAsync(0, RandomBytes(BlockSize, seed: 81));
        Backend.Clear();

        await Device.FlushAsync();

        Assert.Equal(BackendHas(BlockDeviceCapabilities.Flush) ? ["Flush"] : [], Backend.Calls);
    }

    [Fact]
    public async Task A_read_only_view_refuses_every_change_and_still_reads()
    {
        byte[] data = RandomBytes(2 * BlockSize, seed: 91);
        await Device.WriteAsync(4, data);
        await using var readOnly = new CheckedBlockDevice(new ReadOnlyBlockDevice(Device, leaveOpen: true));
        Backend.Clear();

        Assert.True(readOnly.Capabilities.HasFlag(BlockDeviceCapabilities.ReadOnly));
        await Fails(BlockError.ReadOnly, () => readOnly.WriteAsync(4, new byte[BlockSize]));
        await Fails(BlockError.ReadOnly, () => readOnly.UnmapAsync(4, 2));
        await Fails(BlockError.ReadOnly, () => readOnly.WriteZeroesAsync(4, 2, WriteZeroesFlags.MayUnmap));
        Assert.Empty(Backend.Calls);
        Assert.Equal(data, await Read(readOnly, 4, 2));
    }

    [Fact]
    public async Task Concurrent_writers_to_distinct_regions_all_read_back()
    {
        const int writers = 48, rounds = 4;
        // Regions of half a chunk plus a bit: neighbours share chunks, and many regions straddle one.
        long regionBlocks = ChunkBlocks / 2 + 3;
        var start = new TaskCompletionSource();
        Task[] tasks = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            await start.Task;
            for (int round = 0; round < rounds; round++)
            {
                await Device.WriteAsync(w * regionBlocks, RandomBytes((int)regionBlocks * BlockSize, seed: w * 100 + round));
                await Task.Yield();
            }
        })).ToArray();

        start.SetResult();
        await Task.WhenAll(tasks);

        for (int w = 0; w < writers; w++)
            Assert.Equal(RandomBytes((int)regionBlocks * BlockSize, seed: w * 100 + rounds - 1), await Read(Device, w * regionBlocks, regionBlocks));
        AllZero(await Read(Device, writers * regionBlocks, 1));
    }

    [Fact]
    public async Task Concurrent_reads_writes_and_zeroing_of_the_same_blocks_never_fail()
    {
        var start = new TaskCompletionSource();
        long lba = ChunkBlocks - 2;
        Task[] tasks = Enumerable.Range(0, 24).Select(i => Task.Run(async () =>
        {
            await start.Task;
            var buffer = new byte[4 * BlockSize];
            for (int round = 0; round < 50; round++)
            {
                switch ((i + round) % 4)
                {
                    case 0: await Device.WriteAsync(lba, RandomBytes(buffer.Length, seed: i)); break;
                    case 1: await Device.ReadAsync(lba, buffer); break;
                    case 2: await Device.WriteZeroesAsync(lba, 4, WriteZeroesFlags.MayUnmap); break;
                    default: await Device.UnmapAsync(lba - ChunkBlocks + 2, ChunkBlocks); break;
                }
            }
        })).ToArray();

        start.SetResult();
        await Task.WhenAll(tasks);

        // The storm is over: the device must still work normally there.
        byte[] data = RandomBytes(4 * BlockSize, seed: 99);
        await Device.WriteAsync(lba, data);
        Assert.Equal(data, await Read(Device, lba, 4));
    }
}
