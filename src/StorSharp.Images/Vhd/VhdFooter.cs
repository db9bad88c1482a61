using System.Buffers.Binary;
using System.Text;

namespace StorSharp.Images.Vhd;

/// <summary>VHD disk types (footer field "Disk Type").</summary>
internal enum VhdDiskType : uint
{
    Fixed = 2,
    Dynamic = 3,
    Differencing = 4,
}

/// <summary>
/// The 512-byte VHD hard disk footer (Microsoft "Virtual Hard Disk Image Format Specification"): at the
/// end of every VHD, and copied to offset 0 of dynamic and differencing ones. Fields are big-endian; the
/// checksum is the ones' complement of the byte sum of the footer without its checksum field.
/// </summary>
internal sealed record VhdFooter
{
    public const int Length = 512;
    public const ulong FixedDataOffset = ulong.MaxValue;
    public static ReadOnlySpan<byte> Cookie => "conectix"u8;

    public uint Features { get; init; }
    public uint FormatVersion { get; init; }
    public ulong DataOffset { get; init; }
    public uint TimeStamp { get; init; }
    public string CreatorApplication { get; init; } = "";
    public ulong OriginalSize { get; init; }
    public ulong CurrentSize { get; init; }
    public ushort Cylinders { get; init; }
    public byte Heads { get; init; }
    public byte SectorsPerTrack { get; init; }
    public VhdDiskType DiskType { get; init; }
    public byte[] Raw { get; init; } = [];

    /// <summary>The ones' complement of the sum of all bytes except the 4-byte checksum at <paramref name="checksumOffset"/>.</summary>
    public static uint Checksum(ReadOnlySpan<byte> structure, int checksumOffset)
    {
        uint sum = 0;
        for (int i = 0; i < structure.Length; i++)
            if (i < checksumOffset || i >= checksumOffset + 4) sum += structure[i];
        return ~sum;
    }

    /// <summary>True when <paramref name="bytes"/> starts with a footer whose cookie and checksum are right.</summary>
    public static bool LooksValid(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= Length && bytes.StartsWith(Cookie)
        && BinaryPrimitives.ReadUInt32BigEndian(bytes[64..]) == Checksum(bytes[..Length], 64);

    /// <summary>Parses a footer; null with <paramref name="error"/> set when it is not a valid one.</summary>
    public static VhdFooter? TryParse(ReadOnlySpan<byte> b, out string error)
    {
        error = "";
        if (b.Length < Length) { error = "shorter than 512 bytes"; return null; }
        if (!b.StartsWith(Cookie)) { error = "no \"conectix\" cookie"; return null; }
        uint stored = BinaryPrimitives.ReadUInt32BigEndian(b[64..]), computed = Checksum(b[..Length], 64);
        if (stored != computed) { error = $"checksum 0x{stored:X8} does not match the contents (0x{computed:X8})"; return null; }
        uint version = BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
        if (version >> 16 != 1) { error = $"file format version 0x{version:X8} is not 1.x"; return null; }
        uint type = BinaryPrimitives.ReadUInt32BigEndian(b[60..]);
        if (type is not (2 or 3 or 4)) { error = $"disk type {type} is not fixed (2), dynamic (3) or differencing (4)"; return null; }
        uint geometry = BinaryPrimitives.ReadUInt32BigEndian(b[56..]);
        return new VhdFooter
        {
            Features = BinaryPrimitives.ReadUInt32BigEndian(b[8..]),
            FormatVersion = version,
            DataOffset = BinaryPrimitives.ReadUInt64BigEndian(b[16..]),
            TimeStamp = BinaryPrimitives.ReadUInt32BigEndian(b[24..]),
            CreatorApplication = Encoding.Latin1.GetString(b.Slice(28, 4)),
            OriginalSize = BinaryPrimitives.ReadUInt64BigEndian(b[40..]),
            CurrentSize = BinaryPrimitives.ReadUInt64BigEndian(b[48..]),
            Cylinders = (ushort)(geometry >> 16),
            Heads = (byte)(geometry >> 8),
            SectorsPerTrack = (byte)geometry,
            DiskType = (VhdDiskType)type,
            Raw = b[..Length].ToArray(),
        };
    }

    /// <summary>
    /// The disk size in bytes as qemu's "vpc" driver computes it, so both agree: Virtual PC and qemu
    /// (creator "vpc ", "qemu") size disks by CHS geometry (cylinders × heads × sectors × 512), while
    /// Hyper-V ("win "), qemu with force_size ("qem2"), Disk2vhd ("d2v "), XenServer ("tap\0") and
    /// XenConverter ("CTXS") use Current Size. The largest CHS geometry (65535/16/255) means the
    /// geometry could not hold the size, so Current Size is used then too.
    /// </summary>
    public long VirtualSize
    {
        get
        {
            bool currentSizeCreator = CreatorApplication is "win " or "qem2" or "d2v " or "CTXS" or "tap\0";
            bool maxGeometry = Cylinders == 65535 && Heads == 16 && SectorsPerTrack == 255;
            return currentSizeCreator || maxGeometry
                ? (long)Math.Min(CurrentSize, long.MaxValue)
                : (long)Cylinders * Heads * SectorsPerTrack * 512;
        }
    }
}
