using System.Buffers.Binary;

namespace StorSharp.Class;

/// <summary>The UNMAP parameter list (SBC-4 §5.32.2): an 8-byte header and 16-byte block descriptors.</summary>
public static class UnmapParameterList
{
    /// <summary>Bytes of the header.</summary>
    public const int HeaderLength = 8;

    /// <summary>Bytes of one block descriptor.</summary>
    public const int DescriptorLength = 16;

    /// <summary>The bytes a list of <paramref name="descriptorCount"/> descriptors takes.</summary>
    public static int GetLength(int descriptorCount) => HeaderLength + DescriptorLength * descriptorCount;

    /// <summary>Writes the header for <paramref name="descriptorCount"/> descriptors.</summary>
    public static void WriteHeader(Span<byte> destination, int descriptorCount)
    {
        int length = GetLength(descriptorCount);
        if (descriptorCount < 0 || length > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(descriptorCount));
        if (destination.Length < HeaderLength) throw new ArgumentException("The header needs 8 bytes.", nameof(destination));
        destination[..HeaderLength].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(length - 2)); // UNMAP DATA LENGTH: bytes after this field
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)(length - HeaderLength)); // UNMAP BLOCK DESCRIPTOR DATA LENGTH
    }

    /// <summary>Writes descriptor <paramref name="index"/>: <paramref name="blockCount"/> blocks from <paramref name="lba"/>.</summary>
    public static void WriteDescriptor(Span<byte> list, int index, long lba, uint blockCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lba);
        var d = list.Slice(HeaderLength + DescriptorLength * index, DescriptorLength);
        BinaryPrimitives.WriteInt64BigEndian(d, lba);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], blockCount);
        d[12..].Clear();
    }
}

/// <summary>The READ CAPACITY(16) parameter data (SBC-4 §5.21.2).</summary>
/// <param name="LastLba">The last logical block address (block count - 1).</param>
/// <param name="BlockLength">Bytes per logical block.</param>
/// <param name="PhysicalBlockExponent">Logical blocks per physical block, as a power of two.</param>
/// <param name="Lbpme">Logical block provisioning management enabled: the LU is thin provisioned and supports UNMAP.</param>
/// <param name="Lbprz">Unmapped blocks read as zeros.</param>
/// <param name="LowestAlignedLba">The first LBA aligned to a physical block.</param>
public readonly record struct ReadCapacity16Data(long LastLba, uint BlockLength, byte PhysicalBlockExponent, bool Lbpme, bool Lbprz, ushort LowestAlignedLba)
{
    /// <summary>The number of logical blocks.</summary>
    public long BlockCount => LastLba + 1;

    /// <summary>Parses the first 32 (at least 16) bytes of the answer.</summary>
    /// <returns>False when fewer than 16 bytes came back.</returns>
    public static bool TryParse(ReadOnlySpan<byte> data, out ReadCapacity16Data result)
    {
        result = default;
        if (data.Length < 16) return false;
        ulong last = BinaryPrimitives.ReadUInt64BigEndian(data);
        if (last >= long.MaxValue) return false;
        result = new ReadCapacity16Data(
            (long)last,
            BinaryPrimitives.ReadUInt32BigEndian(data[8..]),
            (byte)(data[13] & 0x0F),
            (data[14] & 0x80) != 0,
            (data[14] & 0x40) != 0,
            (ushort)(((data[14] & 0x3F) << 8) | data[15]));
        return true;
    }

    /// <summary>Writes the 32-byte answer (for test devices and the byte-exact tests).</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination[..32].Clear();
        BinaryPrimitives.WriteInt64BigEndian(destination, LastLba);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], BlockLength);
        destination[13] = (byte)(PhysicalBlockExponent & 0x0F);
        destination[14] = (byte)((Lbpme ? 0x80 : 0) | (Lbprz ? 0x40 : 0) | ((LowestAlignedLba >> 8) & 0x3F));
        destination[15] = (byte)LowestAlignedLba;
    }
}

/// <summary>Provisioning status of an LBA status descriptor (SBC-4 table 43).</summary>
public enum ProvisioningStatus : byte
{
    /// <summary>Mapped (or unknown): holds data.</summary>
    Mapped = 0,
    /// <summary>Deallocated.</summary>
    Deallocated = 1,
    /// <summary>Anchored: allocated but not holding user data.</summary>
    Anchored = 2,
}

/// <summary>One LBA status descriptor of GET LBA STATUS parameter data (SBC-4 §5.6.2).</summary>
/// <param name="Lba">The first block of the run.</param>
/// <param name="BlockCount">How many blocks.</param>
/// <param name="Status">Their provisioning status.</param>
public readonly record struct LbaStatusDescriptor(long Lba, uint BlockCount, ProvisioningStatus Status)
{
    /// <summary>Bytes of the parameter data header.</summary>
    public const int HeaderLength = 8;

    /// <summary>Bytes of one descriptor.</summary>
    public const int Length = 16;

    /// <summary>How many descriptors the parameter data holds (from its PARAMETER DATA LENGTH, capped by the bytes present).</summary>
    public static int CountIn(ReadOnlySpan<byte> data)
    {
        if (data.Length < HeaderLength) return 0;
        long parameterLength = BinaryPrimitives.ReadUInt32BigEndian(data); // bytes after this 4-byte field
        long available = Math.Min(parameterLength + 4, data.Length) - HeaderLength;
        return available <= 0 ? 0 : (int)(available / Length);
    }

    /// <summary>Reads descriptor <paramref name="index"/> of the parameter data.</summary>
    public static LbaStatusDescriptor Read(ReadOnlySpan<byte> data, int index)
    {
        var d = data.Slice(HeaderLength + Length * index, Length);
        return new LbaStatusDescriptor(
            (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(d), long.MaxValue),
            BinaryPrimitives.ReadUInt32BigEndian(d[8..]),
            (ProvisioningStatus)(d[12] & 0x0F));
    }

    /// <summary>Writes the parameter data header for <paramref name="count"/> descriptors.</summary>
    public static void WriteHeader(Span<byte> destination, int count)
    {
        destination[..HeaderLength].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(HeaderLength - 4 + Length * count));
    }

    /// <summary>Writes this descriptor as number <paramref name="index"/>.</summary>
    public void WriteTo(Span<byte> data, int index)
    {
        var d = data.Slice(HeaderLength + Length * index, Length);
        d.Clear();
        BinaryPrimitives.WriteInt64BigEndian(d, Lba);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], BlockCount);
        d[12] = (byte)Status;
    }
}

/// <summary>The fields of the Block Limits VPD page (B0h, SBC-4 §6.6.3) the class layer uses.</summary>
/// <param name="MaximumTransferLength">Most blocks per READ/WRITE; 0 = no limit reported.</param>
/// <param name="OptimalTransferLength">Preferred blocks per transfer; 0 = none.</param>
/// <param name="MaximumUnmapLbaCount">Most blocks one UNMAP may name; 0 = UNMAP not supported.</param>
/// <param name="MaximumUnmapDescriptorCount">Most descriptors in one UNMAP.</param>
/// <param name="MaximumWriteSameLength">Most blocks one WRITE SAME may cover; 0 = no limit reported.</param>
public readonly record struct BlockLimits(uint MaximumTransferLength, uint OptimalTransferLength, uint MaximumUnmapLbaCount, uint MaximumUnmapDescriptorCount, ulong MaximumWriteSameLength)
{
    /// <summary>Parses the page; false when it is too short or not page B0h.</summary>
    public static bool TryParse(ReadOnlySpan<byte> page, out BlockLimits limits)
    {
        limits = default;
        if (page.Length < 16 || page[1] != (byte)VpdPage.BlockLimits) return false;
        uint maxTransfer = BinaryPrimitives.ReadUInt32BigEndian(page[8..]);
        uint optimal = BinaryPrimitives.ReadUInt32BigEndian(page[12..]);
        uint maxUnmap = page.Length >= 24 ? BinaryPrimitives.ReadUInt32BigEndian(page[20..]) : 0;
        uint maxDescriptors = page.Length >= 28 ? BinaryPrimitives.ReadUInt32BigEndian(page[24..]) : 0;
        ulong maxWriteSame = page.Length >= 44 ? BinaryPrimitives.ReadUInt64BigEndian(page[36..]) : 0;
        limits = new BlockLimits(maxTransfer, optimal, maxUnmap, maxDescriptors, maxWriteSame);
        return true;
    }
}
