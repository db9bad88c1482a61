using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace StorSharp.Nbd.Protocol;

/// <summary>Why <see cref="NbdOptionCodec.TryReadOption"/> stopped.</summary>
public enum NbdOptionReadStatus
{
    /// <summary>A whole option (header and data) was read.</summary>
    Complete,
    /// <summary>More bytes are needed.</summary>
    NeedMoreData,
    /// <summary>The option did not start with IHAVEOPT: the client is not speaking NBD; close the connection.</summary>
    BadMagic,
    /// <summary>
    /// The header was read but its data is longer than the limit: skip <see cref="NbdOptionRequest.Length"/>
    /// bytes and reply NBD_REP_ERR_TOO_BIG. Only the header was consumed.
    /// </summary>
    TooLarge,
}

/// <summary>Why option data was rejected.</summary>
public enum NbdOptionDataStatus
{
    /// <summary>Well formed.</summary>
    Valid,
    /// <summary>Lengths inside the data do not add up (NBD_REP_ERR_INVALID).</summary>
    Invalid,
    /// <summary>A string longer than 4096 bytes (proto.md: strings are at most 4096 bytes; NBD_REP_ERR_TOO_BIG).</summary>
    TooBig,
}

/// <summary>One option from the client: code, declared length and (when <see cref="NbdOptionReadStatus.Complete"/>) its data.</summary>
/// <param name="Option">The option code; unknown values are kept as they are.</param>
/// <param name="Length">The declared data length.</param>
/// <param name="Data">The data, a slice of the input buffer (valid until it is advanced).</param>
public readonly record struct NbdOptionRequest(NbdOption Option, uint Length, ReadOnlySequence<byte> Data);

/// <summary>
/// Options and option replies (proto.md "Option types", "Option reply types"). Pure functions over
/// spans and sequences: no I/O, no allocation.
/// </summary>
public static class NbdOptionCodec
{
    /// <summary>IHAVEOPT (8), option (4), length (4).</summary>
    public const int OptionHeaderLength = 16;

    /// <summary>Magic (8), option (4), reply type (4), length (4).</summary>
    public const int ReplyHeaderLength = 20;

    /// <summary>The longest string the protocol allows (export names, descriptions, queries).</summary>
    public const int MaxStringLength = 4096;

    /// <summary>Reads one option.</summary>
    /// <param name="buffer">Received bytes.</param>
    /// <param name="maxDataLength">The longest option data accepted.</param>
    /// <param name="option">The option; its data only when the status is <see cref="NbdOptionReadStatus.Complete"/>.</param>
    /// <param name="consumed">Bytes to consume: the whole option, the header alone (<see cref="NbdOptionReadStatus.TooLarge"/>), or 0.</param>
    public static NbdOptionReadStatus TryReadOption(in ReadOnlySequence<byte> buffer, int maxDataLength, out NbdOptionRequest option, out long consumed)
    {
        option = default;
        consumed = 0;
        if (buffer.Length < OptionHeaderLength) return NbdOptionReadStatus.NeedMoreData;
        Span<byte> header = stackalloc byte[OptionHeaderLength];
        buffer.Slice(0, OptionHeaderLength).CopyTo(header);
        if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdMagic.IHaveOpt) return NbdOptionReadStatus.BadMagic;
        var code = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
        if (length > (uint)maxDataLength)
        {
            option = new NbdOptionRequest(code, length, default);
            consumed = OptionHeaderLength;
            return NbdOptionReadStatus.TooLarge;
        }
        if (buffer.Length < OptionHeaderLength + length) return NbdOptionReadStatus.NeedMoreData;
        option = new NbdOptionRequest(code, length, buffer.Slice(OptionHeaderLength, length));
        consumed = OptionHeaderLength + length;
        return NbdOptionReadStatus.Complete;
    }

    /// <summary>Writes an option the way a client sends it (tests and tools).</summary>
    public static bool TryWriteOption(Span<byte> destination, NbdOption option, ReadOnlySpan<byte> data, out int written)
    {
        written = 0;
        if (destination.Length < OptionHeaderLength + data.Length) return false;
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], (uint)data.Length);
        data.CopyTo(destination[OptionHeaderLength..]);
        written = OptionHeaderLength + data.Length;
        return true;
    }

    // ------------------------------------------------------------------ option data

    /// <summary>
    /// Parses the data of NBD_OPT_INFO / NBD_OPT_GO: u32 name length, name, u16 count, count × u16
    /// information requests. The lengths must account for every byte.
    /// </summary>
    public static NbdOptionDataStatus TryParseInfoRequest(ReadOnlySpan<byte> data, out ReadOnlySpan<byte> exportName, out ReadOnlySpan<byte> infoRequests)
    {
        exportName = default;
        infoRequests = default;
        if (data.Length < 6) return NbdOptionDataStatus.Invalid;
        uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (nameLength > (uint)(data.Length - 6)) return NbdOptionDataStatus.Invalid;
        if (nameLength > MaxStringLength) return NbdOptionDataStatus.TooBig;
        exportName = data.Slice(4, (int)nameLength);
        var rest = data[(4 + (int)nameLength)..];
        int count = BinaryPrimitives.ReadUInt16BigEndian(rest);
        if (rest.Length != 2 + 2 * count) return NbdOptionDataStatus.Invalid;
        infoRequests = rest[2..];
        return NbdOptionDataStatus.Valid;
    }

    /// <summary>Information request <paramref name="index"/> of the list <see cref="TryParseInfoRequest"/> returned.</summary>
    public static NbdInfoType GetInfoRequest(ReadOnlySpan<byte> infoRequests, int index) =>
        (NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(infoRequests[(2 * index)..]);

    /// <summary>
    /// Parses the data of NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT: u32 name length,
    /// name, u32 query count, then count × (u32 length, query). Every query is checked here.
    /// </summary>
    public static NbdOptionDataStatus TryParseMetaContextRequest(ReadOnlySpan<byte> data, out ReadOnlySpan<byte> exportName, out int queryCount, out ReadOnlySpan<byte> queries)
    {
        exportName = default;
        queries = default;
        queryCount = 0;
        if (data.Length < 8) return NbdOptionDataStatus.Invalid;
        uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (nameLength > (uint)(data.Length - 8)) return NbdOptionDataStatus.Invalid;
        if (nameLength > MaxStringLength) return NbdOptionDataStatus.TooBig;
        exportName = data.Slice(4, (int)nameLength);
        var rest = data[(4 + (int)nameLength)..];
        uint count = BinaryPrimitives.ReadUInt32BigEndian(rest);
        rest = rest[4..];
        if (count > (uint)rest.Length / 4) return NbdOptionDataStatus.Invalid;
        queries = rest;
        for (uint i = 0; i < count; i++)
        {
            if (rest.Length < 4) return NbdOptionDataStatus.Invalid;
            uint length = BinaryPrimitives.ReadUInt32BigEndian(rest);
            if (length > (uint)(rest.Length - 4)) return NbdOptionDataStatus.Invalid;
            if (length > MaxStringLength) return NbdOptionDataStatus.TooBig;
            rest = rest[(4 + (int)length)..];
        }
        if (!rest.IsEmpty) return NbdOptionDataStatus.Invalid;
        queryCount = (int)count;
        return NbdOptionDataStatus.Valid;
    }

    /// <summary>Takes the next query off a list <see cref="TryParseMetaContextRequest"/> validated.</summary>
    public static ReadOnlySpan<byte> NextQuery(ref ReadOnlySpan<byte> queries)
    {
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(queries);
        var query = queries.Slice(4, length);
        queries = queries[(4 + length)..];
        return query;
    }

    // ------------------------------------------------------------------ replies

    /// <summary>Writes an option reply header; <paramref name="length"/> bytes of reply data follow.</summary>
    public static bool TryWriteReplyHeader(Span<byte> destination, NbdOption option, NbdOptionReplyType type, uint length, out int written)
    {
        written = 0;
        if (destination.Length < ReplyHeaderLength) return false;
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdMagic.OptionReply);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], length);
        written = ReplyHeaderLength;
        return true;
    }

    /// <summary>Writes NBD_REP_INFO with NBD_INFO_EXPORT: size and transmission flags.</summary>
    public static bool TryWriteInfoExport(Span<byte> destination, NbdOption option, ulong size, NbdTransmissionFlags flags, out int written)
    {
        written = 0;
        if (destination.Length < ReplyHeaderLength + 12) return false;
        TryWriteReplyHeader(destination, option, NbdOptionReplyType.Info, 12, out _);
        var d = destination[ReplyHeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)NbdInfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(d[2..], size);
        BinaryPrimitives.WriteUInt16BigEndian(d[10..], (ushort)flags);
        written = ReplyHeaderLength + 12;
        return true;
    }

    /// <summary>Writes NBD_REP_INFO with NBD_INFO_NAME or NBD_INFO_DESCRIPTION: the text, UTF-8, no length field.</summary>
    public static bool TryWriteInfoText(Span<byte> destination, NbdOption option, NbdInfoType type, string text, out int written)
    {
        written = 0;
        int textLength = Encoding.UTF8.GetByteCount(text);
        if (destination.Length < ReplyHeaderLength + 2 + textLength) return false;
        TryWriteReplyHeader(destination, option, NbdOptionReplyType.Info, (uint)(2 + textLength), out _);
        BinaryPrimitives.WriteUInt16BigEndian(destination[ReplyHeaderLength..], (ushort)type);
        Encoding.UTF8.GetBytes(text, destination[(ReplyHeaderLength + 2)..]);
        written = ReplyHeaderLength + 2 + textLength;
        return true;
    }

    /// <summary>Writes NBD_REP_INFO with NBD_INFO_BLOCK_SIZE.</summary>
    public static bool TryWriteInfoBlockSize(Span<byte> destination, NbdOption option, uint minimum, uint preferred, uint maximum, out int written)
    {
        written = 0;
        if (destination.Length < ReplyHeaderLength + 14) return false;
        TryWriteReplyHeader(destination, option, NbdOptionReplyType.Info, 14, out _);
        var d = destination[ReplyHeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)NbdInfoType.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(d[2..], minimum);
        BinaryPrimitives.WriteUInt32BigEndian(d[6..], preferred);
        BinaryPrimitives.WriteUInt32BigEndian(d[10..], maximum);
        written = ReplyHeaderLength + 14;
        return true;
    }

    /// <summary>Writes NBD_REP_SERVER (one export of NBD_OPT_LIST): u32 name length and the name.</summary>
    public static bool TryWriteServer(Span<byte> destination, string exportName, out int written)
    {
        written = 0;
        int nameLength = Encoding.UTF8.GetByteCount(exportName);
        if (destination.Length < ReplyHeaderLength + 4 + nameLength) return false;
        TryWriteReplyHeader(destination, NbdOption.List, NbdOptionReplyType.Server, (uint)(4 + nameLength), out _);
        BinaryPrimitives.WriteUInt32BigEndian(destination[ReplyHeaderLength..], (uint)nameLength);
        Encoding.UTF8.GetBytes(exportName, destination[(ReplyHeaderLength + 4)..]);
        written = ReplyHeaderLength + 4 + nameLength;
        return true;
    }

    /// <summary>Writes NBD_REP_META_CONTEXT: u32 context id and the context's name.</summary>
    public static bool TryWriteMetaContext(Span<byte> destination, NbdOption option, uint contextId, string name, out int written)
    {
        written = 0;
        int nameLength = Encoding.UTF8.GetByteCount(name);
        if (destination.Length < ReplyHeaderLength + 4 + nameLength) return false;
        TryWriteReplyHeader(destination, option, NbdOptionReplyType.MetaContext, (uint)(4 + nameLength), out _);
        BinaryPrimitives.WriteUInt32BigEndian(destination[ReplyHeaderLength..], contextId);
        Encoding.UTF8.GetBytes(name, destination[(ReplyHeaderLength + 4)..]);
        written = ReplyHeaderLength + 4 + nameLength;
        return true;
    }
}
