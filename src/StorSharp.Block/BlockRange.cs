using System.Runtime.CompilerServices;

namespace StorSharp.Block;

/// <summary>
/// Range checks shared by <see cref="CheckedBlockDevice"/> and the backends that guard themselves.
/// They return the exception instead of throwing it so callers can hand it back through a faulted
/// <see cref="ValueTask"/>; the success path builds nothing.
/// </summary>
internal static class BlockRange
{
    internal const string Read = "Read";
    internal const string Write = "Write";
    internal const string Unmap = "Unmap";
    internal const string WriteZeroes = "Write zeroes";
    internal const string GetExtents = "Get extents";

    /// <summary>Checks a transfer: the buffer must be whole blocks and the blocks inside the device.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static BlockDeviceException? CheckBuffer(string operation, long lba, int byteLength, in BlockGeometry geometry, out long blockCount)
    {
        int blockSize = geometry.LogicalBlockSize;
        blockCount = byteLength / blockSize;
        if (byteLength % blockSize != 0)
            return NotWholeBlocks(operation, lba, byteLength, blockSize);
        return CheckBlocks(operation, lba, blockCount, geometry);
    }

    /// <summary>
    /// Checks <paramref name="lba"/> .. <paramref name="lba"/> + <paramref name="blockCount"/> without
    /// ever computing the sum, which can overflow (SPDK's <c>bdev_io_valid_blocks</c> does the same).
    /// A zero-length range may start at the block just past the end, as SBC-4 allows a transfer
    /// length of zero there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static BlockDeviceException? CheckBlocks(string operation, long lba, long blockCount, in BlockGeometry geometry)
    {
        long size = geometry.BlockCount;
        if (blockCount < 0)
            return NegativeCount(operation, lba, blockCount);
        if (lba < 0 || blockCount > size || lba > size - blockCount)
            return OutOfRange(operation, lba, blockCount, geometry);
        return null;
    }

    internal static BlockDeviceException ReadOnly(string operation, long lba, long blockCount) =>
        new(BlockError.ReadOnly, $"{operation} of {blockCount} block(s) at LBA {lba} refused: the device is read-only.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockDeviceException NotWholeBlocks(string operation, long lba, int byteLength, int blockSize) =>
        new(BlockError.InvalidArgument,
            $"{operation} at LBA {lba}: a buffer of {byteLength} bytes is not a whole number of {blockSize}-byte blocks.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockDeviceException NegativeCount(string operation, long lba, long blockCount) =>
        new(BlockError.InvalidArgument, $"{operation} at LBA {lba}: the block count {blockCount} is negative.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static BlockDeviceException OutOfRange(string operation, long lba, long blockCount, in BlockGeometry geometry) =>
        new(BlockError.OutOfRange,
            $"{operation} of {blockCount} block(s) at LBA {lba} is outside the device of {geometry.BlockCount} blocks " +
            $"of {geometry.LogicalBlockSize} bytes (last LBA {geometry.BlockCount - 1}).");
}
