using StorSharp.Block;

namespace StorSharp.Nbd.Client;

/// <summary>
/// The range checks the NBD backend makes before anything goes on the wire, so a bad request
/// gets the same clear error here as from the local backends (the server would answer EINVAL).
/// </summary>
internal static class NbdRangeCheck
{
    internal const string Read = "Read", Write = "Write", Unmap = "Unmap", WriteZeroes = "Write zeroes", GetExtents = "Get extents";

    internal static BlockDeviceException? Transfer(string operation, long lba, int byteLength, in BlockGeometry geometry, bool readOnly)
    {
        if (byteLength % geometry.LogicalBlockSize != 0)
            return new BlockDeviceException(BlockError.InvalidArgument,
                $"{operation} at LBA {lba}: a buffer of {byteLength} bytes is not a whole number of {geometry.LogicalBlockSize}-byte blocks.");
        return Blocks(operation, lba, byteLength / geometry.LogicalBlockSize, geometry, readOnly);
    }

    internal static BlockDeviceException? Blocks(string operation, long lba, long blockCount, in BlockGeometry geometry, bool readOnly)
    {
        if (blockCount < 0)
            return new BlockDeviceException(BlockError.InvalidArgument, $"{operation} at LBA {lba}: the block count {blockCount} is negative.");
        if (lba < 0 || blockCount > geometry.BlockCount || lba > geometry.BlockCount - blockCount)
            return new BlockDeviceException(BlockError.OutOfRange,
                $"{operation} of {blockCount} block(s) at LBA {lba} is outside the NBD export of {geometry.BlockCount} blocks of {geometry.LogicalBlockSize} bytes.");
        if (readOnly)
            return new BlockDeviceException(BlockError.ReadOnly, $"{operation} of {blockCount} block(s) at LBA {lba} refused: the NBD export is read-only.");
        return null;
    }
}
