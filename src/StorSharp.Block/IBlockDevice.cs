namespace StorSharp.Block;

/// <summary>
/// A backend: an array of fixed-size logical blocks (SPDK's bdev, nbdkit's plugin, WinSpd's
/// storage unit). Backends see reads, writes, flushes, unmaps and zeroing by block address;
/// they never see a CDB or a socket.
/// </summary>
/// <remarks>
/// <para>Implementations keep to what they do natively and declare it in
/// <see cref="Capabilities"/>. <see cref="CheckedBlockDevice"/> wraps any backend, checks every
/// range before it reaches the backend (overflow-safe), and emulates what is missing: zeroing by
/// writes, FUA by a flush, extents as one allocated run.</para>
/// <para>Calls may overlap: a backend must accept concurrent requests. Completion may be
/// synchronous (a RAM disk returns a completed <see cref="ValueTask"/>, allocating nothing) or
/// asynchronous; no call blocks a thread waiting for I/O.</para>
/// <para>Errors are reported by throwing <see cref="BlockDeviceException"/> with a
/// <see cref="BlockError"/> that the layers above map to sense data or NBD errors.</para>
/// </remarks>
public interface IBlockDevice : IAsyncDisposable
{
    /// <summary>Block size, block count and the hints above layers report (VPD B0, NBD BLOCK_SIZE).</summary>
    BlockGeometry Geometry { get; }

    /// <summary>What the backend does natively.</summary>
    BlockDeviceCapabilities Capabilities { get; }

    /// <summary>Reads <c>buffer.Length / BlockSize</c> blocks starting at <paramref name="lba"/>.</summary>
    ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Writes <c>buffer.Length / BlockSize</c> blocks starting at <paramref name="lba"/>.</summary>
    /// <param name="lba">The first block.</param>
    /// <param name="buffer">The data, a whole number of blocks.</param>
    /// <param name="flags"><see cref="BlockWriteFlags.ForceUnitAccess"/>: return only once the data is durable.</param>
    /// <param name="cancellationToken">Cancels the write if it has not started.</param>
    ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default);

    /// <summary>Makes every completed write durable.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Deallocates blocks; afterwards they read as zeros when <see cref="BlockDeviceCapabilities.UnmapReadsZeroes"/> is declared.</summary>
    ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default);

    /// <summary>Sets blocks to zero.</summary>
    /// <param name="lba">The first block.</param>
    /// <param name="blockCount">How many blocks.</param>
    /// <param name="flags"><see cref="WriteZeroesFlags.MayUnmap"/>: the backend may deallocate instead of writing zeros.</param>
    /// <param name="cancellationToken">Cancels the request if it has not started.</param>
    ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default);

    /// <summary>
    /// Describes the blocks from <paramref name="lba"/> as consecutive extents (data, hole, zero)
    /// into <paramref name="destination"/>, starting exactly at <paramref name="lba"/>.
    /// </summary>
    /// <returns>How many extents were written; at least one when <paramref name="blockCount"/> &gt; 0.</returns>
    ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default);
}

/// <summary>The shape of a block device.</summary>
/// <param name="LogicalBlockSize">Bytes per logical block: 512 or 4096.</param>
/// <param name="BlockCount">Number of logical blocks.</param>
/// <param name="PhysicalBlockExponent">Logical blocks per physical block as a power of two (READ CAPACITY 16).</param>
/// <param name="OptimalTransferBlocks">The transfer size in blocks the device works best with; 0 when it has no preference.</param>
public readonly record struct BlockGeometry(int LogicalBlockSize, long BlockCount, byte PhysicalBlockExponent = 0, int OptimalTransferBlocks = 0)
{
    /// <summary>The size in bytes.</summary>
    public long SizeBytes => LogicalBlockSize * BlockCount;
}

/// <summary>What a backend does natively; <see cref="CheckedBlockDevice"/> emulates the rest.</summary>
[Flags]
public enum BlockDeviceCapabilities
{
    /// <summary>Nothing beyond read and write.</summary>
    None = 0,
    /// <summary>Writes can be refused: the device is read-only.</summary>
    ReadOnly = 1 << 0,
    /// <summary>Writes may be cached: <see cref="IBlockDevice.FlushAsync"/> matters.</summary>
    Flush = 1 << 1,
    /// <summary>Native force-unit-access writes.</summary>
    ForceUnitAccess = 1 << 2,
    /// <summary>Native unmap (deallocation).</summary>
    Unmap = 1 << 3,
    /// <summary>After an unmap, blocks read as zeros (LBPRZ).</summary>
    UnmapReadsZeroes = 1 << 4,
    /// <summary>Native zeroing, faster than writing zeros.</summary>
    WriteZeroes = 1 << 5,
    /// <summary>Native extent map (allocated / hole / zero).</summary>
    Extents = 1 << 6,
    /// <summary>Thin provisioned: capacity is not allocated until written (LBPME).</summary>
    ThinProvisioned = 1 << 7,
    /// <summary>Several connections may use the device at once and see each other's flushed writes (NBD CAN_MULTI_CONN).</summary>
    MultiConnection = 1 << 8,
    /// <summary>Reads and writes are cheap at any offset (no seek cost): non-rotational.</summary>
    NonRotational = 1 << 9,
}

/// <summary>Flags of a write.</summary>
[Flags]
public enum BlockWriteFlags
{
    /// <summary>A plain write.</summary>
    None = 0,
    /// <summary>Return only once the data is durable (FUA).</summary>
    ForceUnitAccess = 1,
}

/// <summary>Flags of a zeroing request.</summary>
[Flags]
public enum WriteZeroesFlags
{
    /// <summary>Write zeros; keep the blocks allocated.</summary>
    None = 0,
    /// <summary>The backend may deallocate the blocks instead (WRITE SAME with UNMAP, NBD without NO_HOLE).</summary>
    MayUnmap = 1,
    /// <summary>Return only once the zeros are durable.</summary>
    ForceUnitAccess = 2,
    /// <summary>Fail with <see cref="BlockError.NotSupported"/> rather than zeroing slowly (NBD FAST_ZERO).</summary>
    FastOnly = 4,
}

/// <summary>What a run of blocks holds (NBD <c>base:allocation</c> bits; SBC GET LBA STATUS).</summary>
[Flags]
public enum BlockExtentFlags
{
    /// <summary>Allocated data.</summary>
    Data = 0,
    /// <summary>Not allocated (NBD_STATE_HOLE).</summary>
    Hole = 1,
    /// <summary>Reads as zeros (NBD_STATE_ZERO).</summary>
    Zero = 2,
}

/// <summary>A run of blocks that share one state.</summary>
/// <param name="Lba">The first block.</param>
/// <param name="BlockCount">How many blocks.</param>
/// <param name="Flags">Their state.</param>
public readonly record struct BlockExtent(long Lba, long BlockCount, BlockExtentFlags Flags);

/// <summary>Why a block request failed.</summary>
public enum BlockError
{
    /// <summary>The range is outside the device (SCSI LBA OUT OF RANGE, NBD EINVAL / ENOSPC).</summary>
    OutOfRange,
    /// <summary>A length that is not a whole number of blocks, or otherwise malformed (NBD EINVAL).</summary>
    InvalidArgument,
    /// <summary>The device is read-only (SCSI DATA PROTECT, NBD EPERM).</summary>
    ReadOnly,
    /// <summary>The operation is not supported (NBD ENOTSUP).</summary>
    NotSupported,
    /// <summary>No space left (thin provisioning exhausted, NBD ENOSPC).</summary>
    NoSpace,
    /// <summary>The medium failed (SCSI MEDIUM ERROR, NBD EIO).</summary>
    MediumError,
    /// <summary>The device is gone or not ready (SCSI NOT READY, NBD ESHUTDOWN).</summary>
    NotReady,
}

/// <summary>A block request that failed, with the reason the layers above translate.</summary>
public sealed class BlockDeviceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BlockDeviceException(BlockError error, string message, Exception? inner = null) : base(message, inner) => Error = error;

    /// <summary>Why the request failed.</summary>
    public BlockError Error { get; }
}
