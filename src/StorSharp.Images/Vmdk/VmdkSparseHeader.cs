using System.Buffers.Binary;

namespace StorSharp.Images.Vmdk;

/// <summary>
/// The hosted sparse extent header (VMware Virtual Disk Format 1.1): 512 little-endian bytes starting
/// "KDMV". Sizes and offsets are in 512-byte sectors.
/// </summary>
internal sealed record VmdkSparseHeader
{
    public const int Length = 512;
    public const uint Magic = 0x564D444B; // "KDMV"
    public const ulong GdAtEnd = ulong.MaxValue;
    public const uint FlagRedundantGrainTable = 1 << 1;
    public const uint FlagZeroedGrainEntry = 1 << 2;
    public const uint FlagCompressedGrains = 1 << 16;
    public const uint FlagMarkers = 1 << 17;

    public uint Version { get; init; }
    public uint Flags { get; init; }
    public ulong Capacity { get; init; }
    public ulong GrainSize { get; init; }
    public ulong DescriptorOffset { get; init; }
    public ulong DescriptorSize { get; init; }
    public uint NumGtesPerGt { get; init; }
    public ulong RgdOffset { get; init; }
    public ulong GdOffset { get; init; }
    public ulong OverHead { get; init; }
    public ushort CompressAlgorithm { get; init; }

    public bool Compressed => (Flags & FlagCompressedGrains) != 0;
    public bool HasRedundantGd => (Flags & FlagRedundantGrainTable) != 0 && RgdOffset != 0;
    public bool ZeroedGrainEntries => (Flags & FlagZeroedGrainEntry) != 0;

    /// <summary>Parses and checks a header; null with <paramref name="error"/> when invalid.</summary>
    public static VmdkSparseHeader? TryParse(ReadOnlySpan<byte> b, out string error)
    {
        error = "";
        if (b.Length < Length || BinaryPrimitives.ReadUInt32LittleEndian(b) != Magic) { error = "no \"KDMV\" magic"; return null; }
        var h = new VmdkSparseHeader
        {
            Version = BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]),
            Capacity = BinaryPrimitives.ReadUInt64LittleEndian(b[12..]),
            GrainSize = BinaryPrimitives.ReadUInt64LittleEndian(b[20..]),
            DescriptorOffset = BinaryPrimitives.ReadUInt64LittleEndian(b[28..]),
            DescriptorSize = BinaryPrimitives.ReadUInt64LittleEndian(b[36..]),
            NumGtesPerGt = BinaryPrimitives.ReadUInt32LittleEndian(b[44..]),
            RgdOffset = BinaryPrimitives.ReadUInt64LittleEndian(b[48..]),
            GdOffset = BinaryPrimitives.ReadUInt64LittleEndian(b[56..]),
            OverHead = BinaryPrimitives.ReadUInt64LittleEndian(b[64..]),
            CompressAlgorithm = BinaryPrimitives.ReadUInt16LittleEndian(b[77..]),
        };
        if (h.Version is < 1 or > 3) { error = $"version {h.Version} is not 1, 2 or 3"; return null; }
        if (h.GrainSize < 8 || h.GrainSize > 2048 || !ulong.IsPow2(h.GrainSize)) { error = $"grain size {h.GrainSize} sectors is not a power of two from 8 to 2048"; return null; }
        if (h.NumGtesPerGt < 128 || h.NumGtesPerGt > 65536 || !uint.IsPow2(h.NumGtesPerGt)) { error = $"{h.NumGtesPerGt} entries per grain table is not a power of two from 128 to 65536"; return null; }
        if (h.Capacity == 0 || h.Capacity > (64UL << 40) / 512) { error = $"capacity {h.Capacity} sectors is not between 1 and 64 TiB"; return null; }
        if (h.Compressed && h.CompressAlgorithm != 1) { error = $"compression algorithm {h.CompressAlgorithm} is not deflate (1)"; return null; }
        return h;
    }
}
