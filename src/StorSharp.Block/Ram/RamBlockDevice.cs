namespace StorSharp.Block;

/// <summary>
/// A sparse RAM disk: memory is taken in 64 KiB chunks on first write and given back on unmap,
/// so a 2 TiB disk costs a few kilobytes until it is used. Blocks never written read as zeros.
/// </summary>
/// <remarks>
/// <para>Every request completes synchronously; reads and writes of chunks already allocated
/// allocate nothing. Concurrent requests are safe; overlapping concurrent writes may interleave
/// (a torn write, as on a real disk) but never damage the chunk table.</para>
/// <para>It declares no <see cref="BlockDeviceCapabilities.Flush"/>: nothing is cached, a write is
/// as durable as RAM gets when it completes, so FUA needs no work either. If memory runs out a
/// write fails with <see cref="BlockError.NoSpace"/>, the thin-provisioning answer.</para>
/// <para>The device checks its own ranges, so it is safe without a <see cref="CheckedBlockDevice"/>,
/// but only that layer adds the emulations other backends need.</para>
/// </remarks>
public sealed class RamBlockDevice : IResizableBlockDevice
{
    private const BlockDeviceCapabilities WritableCapabilities =
        BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.WriteZeroes
        | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ThinProvisioned
        | BlockDeviceCapabilities.MultiConnection | BlockDeviceCapabilities.NonRotational;

    private readonly RamChunkTable _chunks;
    private BlockGeometry _geometry;
    private readonly bool _readOnly;
    private volatile bool _disposed;

    /// <summary>Creates a RAM disk of <paramref name="sizeBytes"/> bytes, all zeros.</summary>
    /// <param name="sizeBytes">The size: a positive whole number of blocks, at most 1 PiB.</param>
    /// <param name="blockSize">The logical block size: 512 or 4096.</param>
    /// <param name="readOnly">When true, every write is refused (the disk stays all zeros).</param>
    /// <exception cref="ArgumentException">The block size is not 512 or 4096, or the size is not whole blocks.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The size is zero, negative or above 1 PiB.</exception>
    public RamBlockDevice(long sizeBytes, int blockSize = 512, bool readOnly = false)
    {
        DeviceShape.ValidateBlockSize(blockSize, nameof(blockSize));
        long blockCount = DeviceShape.BlockCountOf(sizeBytes, blockSize, nameof(sizeBytes));
        if (sizeBytes > RamChunkTable.MaxBytes)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, $"A RAM disk holds at most {RamChunkTable.MaxBytes} bytes (1 PiB).");
        _geometry = new BlockGeometry(blockSize, blockCount);
        _chunks = new RamChunkTable(sizeBytes);
        _readOnly = readOnly;
        Capabilities = readOnly ? DeviceShape.AsReadOnly(WritableCapabilities) : WritableCapabilities;
    }

    /// <summary>Creates a RAM disk of <paramref name="blockCount"/> blocks.</summary>
    /// <param name="blockCount">The number of logical blocks.</param>
    /// <param name="blockSize">The logical block size: 512 or 4096.</param>
    /// <param name="readOnly">When true, every write is refused.</param>
    /// <exception cref="ArgumentException">The block size is not 512 or 4096.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The block count is not positive or the size exceeds 1 PiB.</exception>
    public static RamBlockDevice WithBlockCount(long blockCount, int blockSize = 512, bool readOnly = false)
    {
        DeviceShape.ValidateBlockSize(blockSize, nameof(blockSize));
        if (blockCount <= 0 || blockCount > RamChunkTable.MaxBytes / blockSize)
            throw new ArgumentOutOfRangeException(nameof(blockCount), blockCount,
                $"A RAM disk has between 1 and {RamChunkTable.MaxBytes / blockSize} blocks of {blockSize} bytes.");
        return new RamBlockDevice(blockCount * blockSize, blockSize, readOnly);
    }

    /// <inheritdoc/>
    public BlockGeometry Geometry => _geometry;

    /// <summary>
    /// Unmap (frees memory; unmapped blocks read as zeros), native zeroing, an extent map, thin
    /// provisioning, multiple connections and no seek cost. No Flush or FUA: nothing is cached.
    /// Read-only disks keep only the read-side ones, plus <see cref="BlockDeviceCapabilities.ReadOnly"/>.
    /// </summary>
    public BlockDeviceCapabilities Capabilities { get; }

    /// <inheritdoc/>
    public bool CanGrow => !_readOnly;

    /// <summary>Grows the RAM disk to <paramref name="blockCount"/> blocks (at most 1 PiB); the new blocks read as zeros. Allocates only the larger chunk directory.</summary>
    /// <inheritdoc cref="IResizableBlockDevice.GrowAsync"/>
    public ValueTask GrowAsync(long blockCount, CancellationToken cancellationToken = default)
    {
        int blockSize = _geometry.LogicalBlockSize;
        if (_readOnly) return ValueTask.FromException(new BlockDeviceException(BlockError.ReadOnly, "The RAM disk is read-only; it cannot grow."));
        if (blockCount <= _geometry.BlockCount || blockCount > RamChunkTable.MaxBytes / blockSize)
            return ValueTask.FromException(new BlockDeviceException(BlockError.InvalidArgument,
                $"A RAM disk of {_geometry.BlockCount} blocks can grow to more blocks, at most {RamChunkTable.MaxBytes / blockSize}; {blockCount} was asked."));
        _chunks.Grow(blockCount * blockSize);
        _geometry = _geometry with { BlockCount = blockCount };
        return default;
    }

    /// <summary>Bytes of memory holding data now: a multiple of the 64 KiB chunk size.</summary>
    public long AllocatedBytes => _chunks.AllocatedChunks * RamChunkTable.ChunkSize;

    /// <inheritdoc/>
    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBuffer(BlockRange.Read, lba, buffer.Length, _geometry, out _);
        if (error is not null)
            return ValueTask.FromException(error);
        if (_disposed)
            return ValueTask.FromException(Gone(BlockRange.Read));
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);
        _chunks.Read(lba * _geometry.LogicalBlockSize, buffer.Span);
        return default;
    }

    /// <inheritdoc/>
    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBuffer(BlockRange.Write, lba, buffer.Length, _geometry, out long blockCount);
        if (error is not null)
            return ValueTask.FromException(error);
        if (_readOnly)
            return ValueTask.FromException(BlockRange.ReadOnly(BlockRange.Write, lba, blockCount));
        if (_disposed)
            return ValueTask.FromException(Gone(BlockRange.Write));
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);
        try
        {
            _chunks.Write(lba * _geometry.LogicalBlockSize, buffer.Span);
        }
        catch (OutOfMemoryException e)
        {
            return ValueTask.FromException(new BlockDeviceException(BlockError.NoSpace,
                $"{BlockRange.Write} of {blockCount} block(s) at LBA {lba}: out of memory for the RAM disk ({AllocatedBytes} bytes in use).", e));
        }
        return default;
    }

    /// <summary>Completes at once: RAM caches nothing that a flush could make more durable.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => default;

    /// <summary>Frees the chunks wholly inside the range and zeroes the rest of it; it reads as zeros afterwards.</summary>
    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) =>
        Zero(BlockRange.Unmap, lba, blockCount, deallocate: true, cancellationToken);

    /// <summary>
    /// Zeroes the range. With <see cref="WriteZeroesFlags.MayUnmap"/> whole chunks are freed;
    /// without it allocated chunks are cleared in place and stay allocated. Chunks never written
    /// are left unallocated either way: allocating memory only to hold zeros would change nothing a
    /// reader can see, and a RAM disk has no provisioning pool to reserve from. Always fast.
    /// </summary>
    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) =>
        Zero(BlockRange.WriteZeroes, lba, blockCount, (flags & WriteZeroesFlags.MayUnmap) != 0, cancellationToken);

    private ValueTask Zero(string operation, long lba, long blockCount, bool deallocate, CancellationToken cancellationToken)
    {
        BlockDeviceException? error = BlockRange.CheckBlocks(operation, lba, blockCount, _geometry);
        if (error is not null)
            return ValueTask.FromException(error);
        if (_readOnly)
            return ValueTask.FromException(BlockRange.ReadOnly(operation, lba, blockCount));
        if (_disposed)
            return ValueTask.FromException(Gone(operation));
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);
        int blockSize = _geometry.LogicalBlockSize;
        _chunks.Zero(lba * blockSize, blockCount * blockSize, deallocate);
        return default;
    }

    /// <summary>
    /// Reports unallocated chunks as <see cref="BlockExtentFlags.Hole"/> | <see cref="BlockExtentFlags.Zero"/>
    /// and allocated ones as <see cref="BlockExtentFlags.Data"/> (even where they hold zeros),
    /// merging neighbours with equal flags. Stops early, covering a prefix of the range, only when
    /// <paramref name="destination"/> is full.
    /// </summary>
    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBlocks(BlockRange.GetExtents, lba, blockCount, _geometry);
        if (error is not null)
            return ValueTask.FromException<int>(error);
        if (_disposed)
            return ValueTask.FromException<int>(Gone(BlockRange.GetExtents));
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<int>(cancellationToken);
        return new ValueTask<int>(FillExtents(lba, blockCount, destination.Span));
    }

    private int FillExtents(long lba, long blockCount, Span<BlockExtent> destination)
    {
        // Chunks and blocks are powers of two with blocks no larger than chunks, so every chunk
        // boundary is a block boundary.
        long blocksPerChunk = RamChunkTable.ChunkSize / _geometry.LogicalBlockSize;
        long blocksPerLeaf = blocksPerChunk * RamChunkTable.LeafSize;
        var extents = new ExtentBuilder(destination);
        long end = lba + blockCount;
        for (long next = lba; next < end;)
        {
            long chunk = next / blocksPerChunk;
            long runEnd;
            BlockExtentFlags flags;
            if (!_chunks.LeafExists(chunk))
            {
                runEnd = (next / blocksPerLeaf + 1) * blocksPerLeaf;
                flags = BlockExtentFlags.Hole | BlockExtentFlags.Zero;
            }
            else
            {
                runEnd = (chunk + 1) * blocksPerChunk;
                flags = _chunks.IsAllocated(chunk) ? BlockExtentFlags.Data : BlockExtentFlags.Hole | BlockExtentFlags.Zero;
            }
            runEnd = Math.Min(runEnd, end);
            if (!extents.TryAdd(next, runEnd - next, flags))
                break;
            next = runEnd;
        }
        return extents.Count;
    }

    /// <summary>
    /// Gives the memory back at once, even if something still holds a reference to the device;
    /// later requests fail with <see cref="BlockError.NotReady"/>. Safe to call more than once.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        _disposed = true;
        _chunks.Release();
        return default;
    }

    private static BlockDeviceException Gone(string operation) =>
        new(BlockError.NotReady, $"{operation} refused: the RAM disk has been disposed.");
}
