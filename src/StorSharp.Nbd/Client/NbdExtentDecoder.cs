using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Client;

/// <summary>
/// Turns <c>base:allocation</c> descriptors (byte lengths and NBD_STATE bits) into block extents.
/// A block that several descriptors share gets only the state they all have (HOLE or ZERO only
/// when every part is), so a block is never reported as reading zeros when part of it may not.
/// </summary>
internal static class NbdExtentDecoder
{
    private const BlockExtentFlags Known = BlockExtentFlags.Hole | BlockExtentFlags.Zero;

    /// <summary>Decodes; returns null, or what is wrong with the descriptors.</summary>
    /// <param name="descriptors">The descriptors: (u32 length, u32 flags) pairs.</param>
    /// <param name="requestLength">Bytes the request asked about; extents are cut there.</param>
    /// <param name="blockSize">The device's block size.</param>
    /// <param name="firstLba">The block the request started at.</param>
    /// <param name="destination">Where the extents go; decoding stops when it is full.</param>
    /// <param name="count">Extents written.</param>
    internal static string? Decode(ReadOnlySpan<byte> descriptors, uint requestLength, int blockSize, long firstLba, Span<BlockExtent> destination, out int count)
    {
        count = 0;
        long requestBlocks = requestLength / blockSize;
        long position = 0;                  // bytes from the request's start
        var partial = Known;                // the state every part of the current partial block shares
        bool partialOpen = false;
        for (int i = 0; i + 8 <= descriptors.Length; i += 8)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(descriptors[i..]);
            var flags = (BlockExtentFlags)(BinaryPrimitives.ReadUInt32BigEndian(descriptors[(i + 4)..]) & (uint)(NbdAllocationState.Hole | NbdAllocationState.Zero));
            if (length == 0) return $"The server sent a block status descriptor of length 0 (descriptor {i / 8}).";
            long end = position + length;
            while (position < end)
            {
                long block = position / blockSize;
                if (block >= requestBlocks || count == destination.Length) return null;
                long blockEnd = (block + 1) * blockSize;
                if (position % blockSize == 0 && end >= blockEnd)
                {
                    long whole = (end - position) / blockSize;
                    Emit(destination, ref count, firstLba + block, Math.Min(whole, requestBlocks - block), flags);
                    position += whole * blockSize;
                }
                else
                {
                    partial &= flags;
                    partialOpen = true;
                    position = Math.Min(end, blockEnd);
                    if (position == blockEnd)
                    {
                        Emit(destination, ref count, firstLba + block, 1, partial);
                        partial = Known;
                        partialOpen = false;
                    }
                }
            }
        }
        if (count == 0 && partialOpen)
            Emit(destination, ref count, firstLba, 1, BlockExtentFlags.Data);   // less than a block described: assume data
        return null;
    }

    private static void Emit(Span<BlockExtent> destination, ref int count, long lba, long blocks, BlockExtentFlags flags)
    {
        if (blocks <= 0) return;
        if (count > 0)
        {
            ref BlockExtent last = ref destination[count - 1];
            if (last.Flags == flags && last.Lba + last.BlockCount == lba)
            {
                last = last with { BlockCount = last.BlockCount + blocks };
                return;
            }
        }
        if (count == destination.Length) return;
        destination[count++] = new BlockExtent(lba, blocks, flags);
    }
}
