using System.Buffers;

namespace StorSharp.Block;

/// <summary>
/// Zeroes blocks by writing zeros, for backends with no native zeroing (the slow path of SBC-4
/// WRITE SAME and NBD WRITE_ZEROES).
/// </summary>
internal static class ZeroWriter
{
    /// <summary>
    /// The largest single write. Bounded so zeroing a whole 2 TiB device costs 1 MiB of pooled
    /// memory, not a buffer the size of the request.
    /// </summary>
    internal const int MaxChunkBytes = 1 << 20;

    /// <summary>Writes zeros over the range, one bounded chunk at a time.</summary>
    internal static async ValueTask WriteAsync(IBlockDevice device, long lba, long blockCount, BlockWriteFlags flags, CancellationToken cancellationToken)
    {
        int blockSize = device.Geometry.LogicalBlockSize;
        int chunkBlocks = (int)Math.Min(blockCount, Math.Max(1, MaxChunkBytes / blockSize));
        int chunkBytes = chunkBlocks * blockSize;
        // The shared pool hands back arrays with whatever their last user left in them, so the
        // part used is cleared here, once per request; renting keeps the buffer private to this
        // request, so a backend that scribbles on it cannot poison other requests.
        byte[] zeros = ArrayPool<byte>.Shared.Rent(chunkBytes);
        try
        {
            Array.Clear(zeros, 0, chunkBytes);
            while (blockCount > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int blocks = (int)Math.Min(blockCount, chunkBlocks);
                await device.WriteAsync(lba, zeros.AsMemory(0, blocks * blockSize), flags, cancellationToken).ConfigureAwait(false);
                lba += blocks;
                blockCount -= blocks;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeros);
        }
    }
}
