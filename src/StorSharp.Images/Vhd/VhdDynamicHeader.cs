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

    /// <summary>Platform codes of parent locators (big-endian four-character codes).</summary>
    public const uint W2ru = 0x57327275, W2ku = 0x57326B75, MacX = 0x4D616358;

    public ulong TableOffset { get; init; }
    public string ParentUnicodeName { get; init; } = "";
    public VhdParentLocator[] ParentLocators { get; init; } = [];
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
        var locators = new List<VhdParentLocator>();
        for (int i = 0; i < 8; i++)
        {
            var e = b.Slice(576 + i * 24, 24);
            uint code = BinaryPrimitives.ReadUInt32BigEndian(e);
            if (code == 0) continue;
            locators.Add(new VhdParentLocator(code, BinaryPrimitives.ReadUInt32BigEndian(e[4..]), BinaryPrimitives.ReadUInt32BigEndian(e[8..]), BinaryPrimitives.ReadUInt64BigEndian(e[16..])));
        }
        string name = System.Text.Encoding.BigEndianUnicode.GetString(b.Slice(64, 512));
        int nul = name.IndexOf('\0');
        return new VhdDynamicHeader
        {
            ParentUnicodeName = nul < 0 ? name : name[..nul],
            ParentLocators = [.. locators],
            TableOffset = BinaryPrimitives.ReadUInt64BigEndian(b[16..]),
            MaxTableEntries = BinaryPrimitives.ReadUInt32BigEndian(b[28..]),
            BlockSize = blockSize,
        };
    }

    /// <summary>Bytes of the sector bitmap in front of each block: one bit per 512-byte sector, padded to whole sectors.</summary>
    public int BitmapBytes => (int)((BlockSize / 512 / 8 + 511) / 512 * 512);
}

/// <summary>A parent locator entry of a differencing VHD's dynamic header: where a path to the parent is stored, and how it is encoded.</summary>
/// <param name="PlatformCode">W2ru (relative Windows path, UTF-16LE), W2ku (absolute Windows path, UTF-16LE), MacX (file URL, UTF-8), others ignored.</param>
/// <param name="DataSpace">The space reserved for the path (sectors, or bytes in some writers).</param>
/// <param name="DataLength">The path's length in bytes.</param>
/// <param name="DataOffset">The file offset of the path.</param>
internal readonly record struct VhdParentLocator(uint PlatformCode, uint DataSpace, uint DataLength, ulong DataOffset);
