using System.Buffers.Binary;

namespace StorSharp.Images.Vhd;

/// <summary>
/// The 1024-byte dynamic disk header ("cxsparse") of dynamic and differencing VHDs: where the block
/// allocation table is, how many entries it has and the block size. Big-endian, checksummed like the footer.
/// </summary>
internal sealed record VhdDynamicHeader
{
    public const int Length = 1024;
    public static ReadOnlySpan<byte> Cookie => "cxsparse"u8;

    public ulong TableOffset { get; init; }
    public uint MaxTableEntries { get; init; }
    public uint BlockSize { get; init; }

    /// <summary>Parses and checks a header; null with <paramref name="error"/> when it is invalid.</summary>
    public static VhdDynamicHeader? TryParse(ReadOnlySpan<byte> b, out string error)
    {
        error = "";
        if (!b.StartsWith(Cookie)) { error = "no \"cxsparse\" cookie"; return null; }
        uint stored = BinaryPrimitives.ReadUInt32BigEndian(b[36..]), computed = VhdFooter.Checksum(b[..Length], 36);
        if (stored != computed) { error = $"checksum 0x{stored:X8} does not match the contents (0x{computed:X8})"; return null; }
        uint version = BinaryPrimitives.ReadUInt32BigEndian(b[24..]);
        if (version != 0x00010000) { error = $"header version 0x{version:X8} is not 1.0"; return null; }
        uint blockSize = BinaryPrimitives.ReadUInt32BigEndian(b[32..]);
        if (blockSize < 4096 || blockSize > 256u << 20 || !uint.IsPow2(blockSize))
        { error = $"block size {blockSize} is not a power of two between 4 KiB and 256 MiB"; return null; }
        return new VhdDynamicHeader
        {
            TableOffset = BinaryPrimitives.ReadUInt64BigEndian(b[16..]),
            MaxTableEntries = BinaryPrimitives.ReadUInt32BigEndian(b[28..]),
            BlockSize = blockSize,
        };
    }

    /// <summary>Bytes of the sector bitmap in front of each block: one bit per 512-byte sector, padded to whole sectors.</summary>
    public int BitmapBytes => (int)((BlockSize / 512 / 8 + 511) / 512 * 512);
}
