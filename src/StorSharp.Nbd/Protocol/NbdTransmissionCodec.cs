using System.Buffers;
using System.Buffers.Binary;

namespace StorSharp.Nbd.Protocol;

/// <summary>A transmission request header (proto.md "Request message"); WRITE data follows it.</summary>
/// <param name="Flags">Command flags.</param>
/// <param name="Command">The command; unknown values are kept as they are.</param>
/// <param name="Cookie">The client's handle, echoed in the reply.</param>
/// <param name="Offset">Byte offset.</param>
/// <param name="Length">Byte length (WRITE: the payload that follows).</param>
public readonly record struct NbdRequest(NbdCommandFlags Flags, NbdCommand Command, ulong Cookie, ulong Offset, uint Length);

/// <summary>Why <c>NbdTransmissionCodec.TryReadRequest</c> stopped.</summary>
public enum NbdRequestReadStatus
{
    /// <summary>A header was read (28 bytes consumed).</summary>
    Complete,
    /// <summary>Fewer than 28 bytes are there.</summary>
    NeedMoreData,
    /// <summary>The magic is wrong: the stream is out of sync; close the connection.</summary>
    BadMagic,
}

/// <summary>A structured reply chunk header, as a client reads it.</summary>
/// <param name="Flags">Chunk flags.</param>
/// <param name="Type">Chunk type.</param>
/// <param name="Cookie">The request's cookie.</param>
/// <param name="Length">Bytes of chunk payload that follow.</param>
public readonly record struct NbdChunkHeader(NbdReplyFlags Flags, NbdReplyChunkType Type, ulong Cookie, uint Length);

/// <summary>
/// Requests, simple replies and structured reply chunks of the transmission phase. Pure functions
/// over spans and sequences: no I/O, no allocation.
/// </summary>
public static class NbdTransmissionCodec
{
    /// <summary>Magic (4), flags (2), type (2), cookie (8), offset (8), length (4).</summary>
    public const int RequestLength = 28;

    /// <summary>Magic (4), error (4), cookie (8).</summary>
    public const int SimpleReplyLength = 16;

    /// <summary>Magic (4), flags (2), type (2), cookie (8), length (4).</summary>
    public const int ChunkHeaderLength = 20;

    /// <summary>An OFFSET_DATA chunk's header and offset, before the data.</summary>
    public const int OffsetDataHeaderLength = ChunkHeaderLength + 8;

    /// <summary>A BLOCK_STATUS chunk's header and context id, before the descriptors.</summary>
    public const int BlockStatusHeaderLength = ChunkHeaderLength + 4;

    /// <summary>One BLOCK_STATUS descriptor: length (4), status flags (4).</summary>
    public const int BlockDescriptorLength = 8;

    /// <summary>An ERROR chunk without a message: header, error (4), message length (2).</summary>
    public const int ErrorChunkLength = ChunkHeaderLength + 6;

    /// <summary>Reads a request header.</summary>
    public static NbdRequestReadStatus TryReadRequest(in ReadOnlySequence<byte> buffer, out NbdRequest request)
    {
        request = default;
        if (buffer.Length < RequestLength) return NbdRequestReadStatus.NeedMoreData;
        var first = buffer.FirstSpan;
        if (first.Length >= RequestLength) return TryReadRequest(first, out request);
        Span<byte> bytes = stackalloc byte[RequestLength];
        buffer.Slice(0, RequestLength).CopyTo(bytes);
        return TryReadRequest(bytes, out request);
    }

    /// <summary>Reads a request header from contiguous bytes.</summary>
    public static NbdRequestReadStatus TryReadRequest(ReadOnlySpan<byte> bytes, out NbdRequest request)
    {
        request = default;
        if (bytes.Length < RequestLength) return NbdRequestReadStatus.NeedMoreData;
        if (BinaryPrimitives.ReadUInt32BigEndian(bytes) != NbdMagic.Request) return NbdRequestReadStatus.BadMagic;
        request = new NbdRequest(
            (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]),
            (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(bytes[24..]));
        return NbdRequestReadStatus.Complete;
    }

    /// <summary>Writes a request header the way a client sends it (tests and tools).</summary>
    public static bool TryWriteRequest(Span<byte> destination, in NbdRequest request, out int written)
    {
        written = 0;
        if (destination.Length < RequestLength) return false;
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.Request);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)request.Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)request.Command);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], request.Cookie);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], request.Offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], request.Length);
        written = RequestLength;
        return true;
    }

    /// <summary>Writes a simple reply; a successful READ's data follows it.</summary>
    public static bool TryWriteSimpleReply(Span<byte> destination, uint error, ulong cookie, out int written)
    {
        written = 0;
        if (destination.Length < SimpleReplyLength) return false;
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], error);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], cookie);
        written = SimpleReplyLength;
        return true;
    }

    /// <summary>Writes a structured chunk header; <paramref name="length"/> bytes of payload follow.</summary>
    public static bool TryWriteChunkHeader(Span<byte> destination, NbdReplyFlags flags, NbdReplyChunkType type, ulong cookie, uint length, out int written)
    {
        written = 0;
        if (destination.Length < ChunkHeaderLength) return false;
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.StructuredReply);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)type);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], cookie);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], length);
        written = ChunkHeaderLength;
        return true;
    }

    /// <summary>Writes an OFFSET_DATA chunk up to its data: <paramref name="dataLength"/> bytes must follow.</summary>
    public static bool TryWriteOffsetDataHeader(Span<byte> destination, NbdReplyFlags flags, ulong cookie, ulong offset, uint dataLength, out int written)
    {
        written = 0;
        if (destination.Length < OffsetDataHeaderLength || dataLength > uint.MaxValue - 8) return false;
        TryWriteChunkHeader(destination, flags, NbdReplyChunkType.OffsetData, cookie, 8 + dataLength, out _);
        BinaryPrimitives.WriteUInt64BigEndian(destination[ChunkHeaderLength..], offset);
        written = OffsetDataHeaderLength;
        return true;
    }

    /// <summary>Writes an OFFSET_HOLE chunk: <paramref name="holeLength"/> bytes at <paramref name="offset"/> read as zeros.</summary>
    public static bool TryWriteOffsetHole(Span<byte> destination, NbdReplyFlags flags, ulong cookie, ulong offset, uint holeLength, out int written)
    {
        written = 0;
        if (destination.Length < ChunkHeaderLength + 12) return false;
        TryWriteChunkHeader(destination, flags, NbdReplyChunkType.OffsetHole, cookie, 12, out _);
        BinaryPrimitives.WriteUInt64BigEndian(destination[ChunkHeaderLength..], offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(ChunkHeaderLength + 8)..], holeLength);
        written = ChunkHeaderLength + 12;
        return true;
    }

    /// <summary>Writes an ERROR chunk with an optional UTF-8 message.</summary>
    public static bool TryWriteErrorChunk(Span<byte> destination, NbdReplyFlags flags, ulong cookie, uint error, ReadOnlySpan<byte> message, out int written)
    {
        written = 0;
        if (message.Length > ushort.MaxValue || destination.Length < ErrorChunkLength + message.Length) return false;
        TryWriteChunkHeader(destination, flags, NbdReplyChunkType.Error, cookie, (uint)(6 + message.Length), out _);
        BinaryPrimitives.WriteUInt32BigEndian(destination[ChunkHeaderLength..], error);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(ChunkHeaderLength + 4)..], (ushort)message.Length);
        message.CopyTo(destination[ErrorChunkLength..]);
        written = ErrorChunkLength + message.Length;
        return true;
    }

    /// <summary>Writes a NONE chunk (flags should carry DONE).</summary>
    public static bool TryWriteNoneChunk(Span<byte> destination, NbdReplyFlags flags, ulong cookie, out int written) =>
        TryWriteChunkHeader(destination, flags, NbdReplyChunkType.None, cookie, 0, out written);

    /// <summary>Writes a BLOCK_STATUS chunk up to its descriptors: <paramref name="descriptorCount"/> × 8 bytes must follow.</summary>
    public static bool TryWriteBlockStatusHeader(Span<byte> destination, NbdReplyFlags flags, ulong cookie, uint contextId, int descriptorCount, out int written)
    {
        written = 0;
        if (destination.Length < BlockStatusHeaderLength || descriptorCount < 0) return false;
        TryWriteChunkHeader(destination, flags, NbdReplyChunkType.BlockStatus, cookie, (uint)(4 + BlockDescriptorLength * descriptorCount), out _);
        BinaryPrimitives.WriteUInt32BigEndian(destination[ChunkHeaderLength..], contextId);
        written = BlockStatusHeaderLength;
        return true;
    }

    /// <summary>Writes one BLOCK_STATUS descriptor.</summary>
    public static bool TryWriteBlockDescriptor(Span<byte> destination, uint length, NbdAllocationState state, out int written)
    {
        written = 0;
        if (destination.Length < BlockDescriptorLength) return false;
        BinaryPrimitives.WriteUInt32BigEndian(destination, length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)state);
        written = BlockDescriptorLength;
        return true;
    }

    /// <summary>Reads a simple reply header (as a client does): error and cookie.</summary>
    public static bool TryReadSimpleReply(ReadOnlySpan<byte> bytes, out uint error, out ulong cookie)
    {
        error = 0;
        cookie = 0;
        if (bytes.Length < SimpleReplyLength || BinaryPrimitives.ReadUInt32BigEndian(bytes) != NbdMagic.SimpleReply) return false;
        error = BinaryPrimitives.ReadUInt32BigEndian(bytes[4..]);
        cookie = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        return true;
    }

    /// <summary>Reads a structured chunk header (as a client does).</summary>
    public static bool TryReadChunkHeader(ReadOnlySpan<byte> bytes, out NbdChunkHeader header)
    {
        header = default;
        if (bytes.Length < ChunkHeaderLength || BinaryPrimitives.ReadUInt32BigEndian(bytes) != NbdMagic.StructuredReply) return false;
        header = new NbdChunkHeader(
            (NbdReplyFlags)BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]),
            (NbdReplyChunkType)BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]));
        return true;
    }
}
