using System.Buffers.Binary;
using System.Numerics;

namespace StorSharp.Images.Vhdx;

/// <summary>The VHDX checksum: CRC-32C (Castagnoli) over a structure with its checksum field taken as zero.</summary>
internal static class VhdxCrc
{
    public static uint Compute(ReadOnlySpan<byte> data, int checksumOffset)
    {
        uint crc = uint.MaxValue;
        for (int i = 0; i < data.Length; i++)
            crc = BitOperations.Crc32C(crc, i >= checksumOffset && i < checksumOffset + 4 ? (byte)0 : data[i]);
        return ~crc;
    }

    /// <summary>True when the little-endian checksum at <paramref name="checksumOffset"/> matches.</summary>
    public static bool Verify(ReadOnlySpan<byte> data, int checksumOffset) =>
        BinaryPrimitives.ReadUInt32LittleEndian(data[checksumOffset..]) == Compute(data, checksumOffset);

    /// <summary>Stores the checksum of <paramref name="data"/> at <paramref name="checksumOffset"/>.</summary>
    public static void Store(Span<byte> data, int checksumOffset) =>
        BinaryPrimitives.WriteUInt32LittleEndian(data[checksumOffset..], Compute(data, checksumOffset));
}

/// <summary>
/// A VHDX header (MS-VHDX 2.2.2): 4 KiB at 64 KiB and at 128 KiB. The valid one with the greater
/// sequence number is current; updates go to the other slot with the next sequence number.
/// </summary>
internal sealed record VhdxHeader
{
    public const int Length = 4096;
    public static readonly long[] Offsets = [64 * 1024, 128 * 1024];
    public static ReadOnlySpan<byte> Signature => "head"u8;

    public ulong SequenceNumber { get; init; }
    public Guid FileWriteGuid { get; init; }
    public Guid DataWriteGuid { get; init; }
    public Guid LogGuid { get; init; }
    public ushort LogVersion { get; init; }
    public ushort Version { get; init; }
    public uint LogLength { get; init; }
    public ulong LogOffset { get; init; }

    /// <summary>Parses one header slot; null with <paramref name="error"/> when it is not valid.</summary>
    public static VhdxHeader? TryParse(ReadOnlySpan<byte> b, out string error)
    {
        error = "";
        if (!b.StartsWith(Signature)) { error = "no \"head\" signature"; return null; }
        if (!VhdxCrc.Verify(b[..Length], 4)) { error = "CRC-32C checksum mismatch"; return null; }
        var header = new VhdxHeader
        {
            SequenceNumber = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]),
            FileWriteGuid = new Guid(b.Slice(16, 16)),
            DataWriteGuid = new Guid(b.Slice(32, 16)),
            LogGuid = new Guid(b.Slice(48, 16)),
            LogVersion = BinaryPrimitives.ReadUInt16LittleEndian(b[64..]),
            Version = BinaryPrimitives.ReadUInt16LittleEndian(b[66..]),
            LogLength = BinaryPrimitives.ReadUInt32LittleEndian(b[68..]),
            LogOffset = BinaryPrimitives.ReadUInt64LittleEndian(b[72..]),
        };
        if (header.Version != 1) { error = $"version {header.Version} is not 1"; return null; }
        if (header.LogVersion != 0) { error = $"log version {header.LogVersion} is not 0"; return null; }
        return header;
    }

    /// <summary>Picks the current header of two slots (either may be null when invalid).</summary>
    public static (VhdxHeader Header, int Slot)? Select(VhdxHeader? first, VhdxHeader? second) =>
        (first, second) switch
        {
            (null, null) => null,
            (not null, null) => (first, 0),
            (null, not null) => (second, 1),
            _ => second!.SequenceNumber > first!.SequenceNumber ? (second, 1) : (first, 0),
        };

    /// <summary>The 4 KiB on-disk form, checksum included.</summary>
    public byte[] ToBytes()
    {
        var b = new byte[Length];
        Signature.CopyTo(b);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), SequenceNumber);
        FileWriteGuid.TryWriteBytes(b.AsSpan(16));
        DataWriteGuid.TryWriteBytes(b.AsSpan(32));
        LogGuid.TryWriteBytes(b.AsSpan(48));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(64), LogVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(66), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(68), LogLength);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(72), LogOffset);
        VhdxCrc.Store(b, 4);
        return b;
    }
}

/// <summary>One region table entry (MS-VHDX 2.2.3.2): a GUID-named range of the file.</summary>
internal readonly record struct VhdxRegion(Guid Id, long FileOffset, long Length, bool Required);

/// <summary>
/// The region table (MS-VHDX 2.2.3): 64 KiB at 192 KiB and a copy at 256 KiB, listing the BAT and
/// metadata regions. Checked: signature, CRC-32C, entry count, 1 MiB alignment, inside the file, no overlaps.
/// </summary>
internal static class VhdxRegionTable
{
    public const int Length = 64 * 1024;
    public static readonly long[] Offsets = [192 * 1024, 256 * 1024];
    public static readonly Guid BatRegion = new("2DC27766-F623-4200-9D64-115E9BFD4A08");
    public static readonly Guid MetadataRegion = new("8B7CA206-4790-4B9A-B8FE-575F050F886E");
    private const int MaxEntries = 2047;

    /// <summary>Parses and checks a table; null with <paramref name="error"/> when it is invalid.</summary>
    public static VhdxRegion[]? TryParse(ReadOnlySpan<byte> b, long fileLength, out string error)
    {
        error = "";
        if (!b.StartsWith("regi"u8)) { error = "no \"regi\" signature"; return null; }
        if (!VhdxCrc.Verify(b[..Length], 4)) { error = "CRC-32C checksum mismatch"; return null; }
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]);
        if (count > MaxEntries) { error = $"{count} entries, more than {MaxEntries}"; return null; }
        var regions = new VhdxRegion[count];
        for (int i = 0; i < count; i++)
        {
            var e = b.Slice(16 + i * 32, 32);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(e[16..]);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(e[24..]);
            var region = new VhdxRegion(new Guid(e[..16]), (long)Math.Min(offset, long.MaxValue), length, (BinaryPrimitives.ReadUInt32LittleEndian(e[28..]) & 1) != 0);
            if (offset % (1 << 20) != 0 || length % (1 << 20) != 0 || offset < 1 << 20 || length == 0)
            { error = $"region {region.Id} at {offset}, {length} bytes, is not a non-empty range of whole MiB after the first MiB"; return null; }
            if (offset > (ulong)fileLength || length > fileLength - (long)offset)
            { error = $"region {region.Id} at {offset}, {length} bytes, goes past the end of the file ({fileLength} bytes)"; return null; }
            for (int j = 0; j < i; j++)
                if (region.FileOffset < regions[j].FileOffset + regions[j].Length && regions[j].FileOffset < region.FileOffset + region.Length)
                { error = $"region {region.Id} overlaps region {regions[j].Id}"; return null; }
            if (region.Required && region.Id != BatRegion && region.Id != MetadataRegion)
            { error = $"region {region.Id} is required and unknown"; return null; }
            regions[i] = region;
        }
        return regions;
    }
}

/// <summary>The metadata StorSharp needs (MS-VHDX 2.6.2): block size, flags, disk size, sector sizes.</summary>
internal sealed record VhdxMetadata(uint BlockSize, bool LeaveBlockAllocated, bool HasParent, long VirtualDiskSize, uint LogicalSectorSize, uint PhysicalSectorSize)
{
    public static readonly Guid FileParameters = new("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");
    public static readonly Guid VirtualDiskSizeItem = new("2FA54224-CD1B-4876-B211-5DBED83BF4B8");
    public static readonly Guid VirtualDiskId = new("BECA12AB-B2E6-4523-93EF-C309E000C746");
    public static readonly Guid LogicalSectorSizeItem = new("8141BF1D-A96F-4709-BA47-F233A8FAAB5F");
    public static readonly Guid PhysicalSectorSizeItem = new("CDA348C7-445D-4471-9CC9-E9885251C556");
    public static readonly Guid ParentLocator = new("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C");
    public const int TableLength = 64 * 1024;

    /// <summary>
    /// Parses the metadata region (its table and the items it points to, all inside <paramref name="region"/>);
    /// null with <paramref name="error"/> (naming the region-relative offset) when something is wrong.
    /// </summary>
    public static VhdxMetadata? TryParse(ReadOnlySpan<byte> region, out string error)
    {
        error = "";
        if (!region.StartsWith("metadata"u8)) { error = "metadata table: no \"metadata\" signature"; return null; }
        ushort count = BinaryPrimitives.ReadUInt16LittleEndian(region[10..]);
        if (count > 2047) { error = $"metadata table: {count} entries, more than 2047"; return null; }
        var items = new Dictionary<Guid, (int Offset, int Length)>();
        for (int i = 0; i < count; i++)
        {
            var e = region.Slice(32 + i * 32, 32);
            var id = new Guid(e[..16]);
            uint offset = BinaryPrimitives.ReadUInt32LittleEndian(e[16..]), length = BinaryPrimitives.ReadUInt32LittleEndian(e[20..]);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(e[24..]);
            bool isUser = (flags & 1) != 0, required = (flags & 4) != 0;
            if (length > 0 && (offset < TableLength || offset > region.Length || length > region.Length - offset))
            { error = $"metadata entry {i} ({id}): item at region offset {offset}, {length} bytes, is outside the metadata region ({region.Length} bytes) or inside its table"; return null; }
            if (!items.TryAdd(id, ((int)offset, (int)length)) && !isUser)
            { error = $"metadata entry {i} ({id}) appears twice"; return null; }
            bool known = id == FileParameters || id == VirtualDiskSizeItem || id == VirtualDiskId || id == LogicalSectorSizeItem || id == PhysicalSectorSizeItem || id == ParentLocator;
            if (required && !known && !isUser)
            { error = $"metadata entry {i}: item {id} is required and unknown"; return null; }
        }
        ReadOnlySpan<byte> Item(Dictionary<Guid, (int Offset, int Length)> all, Guid id, int need, ReadOnlySpan<byte> r, ref string err)
        {
            if (!all.TryGetValue(id, out var at) || at.Length < need) { err = $"metadata item {id} is missing or shorter than {need} bytes"; return default; }
            return r.Slice(at.Offset, need);
        }
        var p = Item(items, FileParameters, 8, region, ref error);
        if (p.IsEmpty) return null;
        var s = Item(items, VirtualDiskSizeItem, 8, region, ref error);
        if (s.IsEmpty) return null;
        var l = Item(items, LogicalSectorSizeItem, 4, region, ref error);
        if (l.IsEmpty) return null;
        var ph = Item(items, PhysicalSectorSizeItem, 4, region, ref error);
        if (ph.IsEmpty) return null;
        uint blockSize = BinaryPrimitives.ReadUInt32LittleEndian(p), pflags = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(s);
        uint logical = BinaryPrimitives.ReadUInt32LittleEndian(l), physical = BinaryPrimitives.ReadUInt32LittleEndian(ph);
        if (blockSize < 1 << 20 || blockSize > 256 << 20 || !uint.IsPow2(blockSize)) { error = $"file parameters: block size {blockSize} is not a power of two from 1 MiB to 256 MiB"; return null; }
        if (logical is not (512 or 4096)) { error = $"logical sector size {logical} is not 512 or 4096"; return null; }
        if (physical is not (512 or 4096)) { error = $"physical sector size {physical} is not 512 or 4096"; return null; }
        if (size == 0 || size > 64UL << 40 || size % logical != 0) { error = $"virtual disk size {size} is not a positive multiple of {logical} up to 64 TiB"; return null; }
        return new VhdxMetadata(blockSize, (pflags & 1) != 0, (pflags & 2) != 0, (long)size, logical, physical);
    }

    /// <summary>Payload blocks per sector bitmap block (MS-VHDX 2.5: 2^23 × logical sector size / block size).</summary>
    public long ChunkRatio => (1L << 23) * LogicalSectorSize / BlockSize;

    /// <summary>Payload blocks the disk needs.</summary>
    public long DataBlocks => (VirtualDiskSize + BlockSize - 1) / BlockSize;

    /// <summary>BAT entries of a disk without parent: the payload entries with a sector bitmap entry after each chunk.</summary>
    public long BatEntries => DataBlocks + (DataBlocks - 1) / ChunkRatio;
}
