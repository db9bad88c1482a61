using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace StorSharp.Iscsi.Pdu;

/// <summary>
/// CRC32C (Castagnoli) as iSCSI uses it for header and data digests (RFC 7143 §13.1, Appendix B.4):
/// initial value all ones, final complement, sent least significant byte first.
/// Hardware accelerated through <see cref="BitOperations.Crc32C(uint, ulong)"/>.
/// </summary>
internal static class Crc32C
{
    /// <summary>The digest of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(~0u, data);

    /// <summary>The digest of <paramref name="data"/>.</summary>
    public static uint Compute(in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment) return Compute(data.FirstSpan);
        uint crc = ~0u;
        foreach (var segment in data) crc = Update(crc, segment.Span);
        return ~crc;
    }

    /// <summary>Feeds <paramref name="data"/> into a running (uncomplemented) CRC.</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, MemoryMarshal.Read<ulong>(data));
            data = data[8..];
        }
        if (data.Length >= 4)
        {
            crc = BitOperations.Crc32C(crc, MemoryMarshal.Read<uint>(data));
            data = data[4..];
        }
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }

    /// <summary>Writes a digest in wire order (little endian, as Linux and libiscsi put it).</summary>
    public static void Write(Span<byte> destination, uint digest) => BinaryPrimitives.WriteUInt32LittleEndian(destination, digest);

    /// <summary>Reads a digest in wire order.</summary>
    public static uint Read(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt32LittleEndian(source);
}
