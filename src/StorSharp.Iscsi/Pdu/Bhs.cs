using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace StorSharp.Iscsi.Pdu;

/// <summary>The 48-byte Basic Header Segment, stored inline (no allocation) (RFC 7143 §11.2.1).</summary>
[InlineArray(Length)]
internal struct BhsBuffer
{
    /// <summary>The size of every BHS.</summary>
    public const int Length = 48;
    private byte _element0;
}

/// <summary>
/// Field accessors for the parts of the BHS every PDU shares (RFC 7143 §11.2.1): opcode and I bit
/// (byte 0), F bit (byte 1), TotalAHSLength (byte 4), DataSegmentLength (bytes 5-7), LUN (8-15),
/// Initiator Task Tag (16-19).
/// </summary>
internal static class Bhs
{
    public const int Size = BhsBuffer.Length;
    public const byte ImmediateBit = 0x40;
    public const byte FinalBit = 0x80;
    public const uint ReservedTag = 0xFFFFFFFF;

    public static IscsiOpcode Opcode(ReadOnlySpan<byte> bhs) => (IscsiOpcode)(bhs[0] & 0x3F);
    public static bool Immediate(ReadOnlySpan<byte> bhs) => (bhs[0] & ImmediateBit) != 0;
    public static bool Final(ReadOnlySpan<byte> bhs) => (bhs[1] & FinalBit) != 0;
    public static int TotalAhsLength(ReadOnlySpan<byte> bhs) => bhs[4] * 4;
    public static int DataSegmentLength(ReadOnlySpan<byte> bhs) => (bhs[5] << 16) | (bhs[6] << 8) | bhs[7];
    public static ulong Lun(ReadOnlySpan<byte> bhs) => BinaryPrimitives.ReadUInt64BigEndian(bhs[8..]);
    public static uint InitiatorTaskTag(ReadOnlySpan<byte> bhs) => BinaryPrimitives.ReadUInt32BigEndian(bhs[16..]);

    public static void SetOpcode(Span<byte> bhs, IscsiOpcode opcode, bool immediate = false) =>
        bhs[0] = (byte)((byte)opcode | (immediate ? ImmediateBit : 0));

    public static void SetDataSegmentLength(Span<byte> bhs, int length)
    {
        if ((uint)length > 0xFFFFFF) throw new ArgumentOutOfRangeException(nameof(length), "A data segment is at most 2^24 - 1 bytes.");
        bhs[5] = (byte)(length >> 16);
        bhs[6] = (byte)(length >> 8);
        bhs[7] = (byte)length;
    }

    public static void SetTotalAhsLength(Span<byte> bhs, int bytes) => bhs[4] = (byte)(bytes / 4);

    public static uint U32(ReadOnlySpan<byte> bhs, int offset) => BinaryPrimitives.ReadUInt32BigEndian(bhs[offset..]);
    public static ushort U16(ReadOnlySpan<byte> bhs, int offset) => BinaryPrimitives.ReadUInt16BigEndian(bhs[offset..]);
    public static ulong U64(ReadOnlySpan<byte> bhs, int offset) => BinaryPrimitives.ReadUInt64BigEndian(bhs[offset..]);
    public static void U32(Span<byte> bhs, int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(bhs[offset..], value);
    public static void U16(Span<byte> bhs, int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(bhs[offset..], value);
    public static void U64(Span<byte> bhs, int offset, ulong value) => BinaryPrimitives.WriteUInt64BigEndian(bhs[offset..], value);

    /// <summary>Reads the 48-bit ISID (bytes 8-13 of login PDUs).</summary>
    public static ulong Isid(ReadOnlySpan<byte> bhs) => ((ulong)U16(bhs, 8) << 32) | U32(bhs, 10);

    public static void Isid(Span<byte> bhs, ulong isid)
    {
        U16(bhs, 8, (ushort)(isid >> 32));
        U32(bhs, 10, (uint)isid);
    }

    /// <summary>The data segment padded to a 4-byte boundary (RFC 7143 §11.2.3).</summary>
    public static int Padded(int length) => (length + 3) & ~3;
}
