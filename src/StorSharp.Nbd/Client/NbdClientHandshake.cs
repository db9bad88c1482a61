using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Client;

/// <summary>
/// The client side of fixed newstyle negotiation: NBD_OPT_STRUCTURED_REPLY, NBD_OPT_SET_META_CONTEXT
/// (<c>base:allocation</c>), then NBD_OPT_GO asking for NBD_INFO_BLOCK_SIZE, falling back to
/// NBD_OPT_EXPORT_NAME for servers without NBD_OPT_GO. Servers without structured replies or
/// metadata contexts are used without them.
/// </summary>
internal static class NbdClientHandshake
{
    internal const string AllocationContext = "base:allocation";

    /// <summary>"IHAVEOPT" in the place of IHAVEOPT means newstyle; 0x00420281861253 means oldstyle.</summary>
    private const ulong OldstyleMagic = 0x00420281861253;

    /// <summary>Option replies longer than this are not a real server's.</summary>
    private const uint MaxReplyLength = 64 * 1024;

    internal static async Task<NbdExportInfo> NegotiateAsync(Stream stream, string exportName, bool structuredReplies, CancellationToken ct)
    {
        byte[] greeting = new byte[NbdHandshake.ServerGreetingLength];
        await ReadExactly(stream, greeting, "the server's greeting", ct);
        ulong magic = BinaryPrimitives.ReadUInt64BigEndian(greeting);
        ulong second = BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8));
        if (magic != NbdMagic.NbdMagicValue)
            throw new NbdProtocolException($"The server did not greet with NBDMAGIC (got 0x{magic:X16}): it is not an NBD server.");
        if (second == OldstyleMagic)
            throw new NbdProtocolException("The server speaks oldstyle negotiation, which has no export names: only fixed newstyle servers are supported.");
        if (second != NbdMagic.IHaveOpt)
            throw new NbdProtocolException($"The server's greeting has 0x{second:X16} where IHAVEOPT belongs.");
        var handshakeFlags = (NbdHandshakeFlags)BinaryPrimitives.ReadUInt16BigEndian(greeting.AsSpan(16));
        if ((handshakeFlags & NbdHandshakeFlags.FixedNewstyle) == 0)
            throw new NbdProtocolException("The server does not speak fixed newstyle negotiation (NBD_FLAG_FIXED_NEWSTYLE is clear).");
        bool noZeroes = (handshakeFlags & NbdHandshakeFlags.NoZeroes) != 0;
        var clientFlags = NbdClientFlags.FixedNewstyle | (noZeroes ? NbdClientFlags.NoZeroes : 0);
        byte[] flagBytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(flagBytes, (uint)clientFlags);
        await stream.WriteAsync(flagBytes, ct);

        byte[] name = Encoding.UTF8.GetBytes(exportName);
        if (name.Length > NbdOptionCodec.MaxStringLength)
            throw new NbdProtocolException($"The export name is {name.Length} bytes long; NBD allows at most {NbdOptionCodec.MaxStringLength}.");

        bool structured = false;
        uint? contextId = null;
        if (structuredReplies)
        {
            await SendOptionAsync(stream, NbdOption.StructuredReply, [], ct);
            var reply = await ReadReplyAsync(stream, NbdOption.StructuredReply, ct);
            structured = reply.Type == NbdOptionReplyType.Ack;
            if (!structured && !IsError(reply.Type))
                throw new NbdProtocolException($"The server answered NBD_OPT_STRUCTURED_REPLY with reply type {reply.Type}.");
        }
        if (structured)
            contextId = await SelectAllocationContextAsync(stream, name, ct);

        NbdExportInfo? info = await GoAsync(stream, name, exportName, structured, contextId, ct);
        if (info is null)
        {
            // NBD_OPT_GO unknown to this server: NBD_OPT_EXPORT_NAME (no error reply: an unknown export closes the connection).
            await SendOptionAsync(stream, NbdOption.ExportName, name, ct);
            byte[] reply = new byte[NbdHandshake.ExportNameReplyLength + (noZeroes ? 0 : NbdHandshake.ExportNameZeroPadding)];
            await ReadExactly(stream, reply, $"the reply to NBD_OPT_EXPORT_NAME '{exportName}' (the server closes the connection for an unknown export)", ct);
            info = new NbdExportInfo(
                BinaryPrimitives.ReadUInt64BigEndian(reply),
                (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(8)),
                1, 4096, 32 * 1024 * 1024, structured, contextId);
        }
        return info;
    }

    private static async Task<uint?> SelectAllocationContextAsync(Stream stream, byte[] name, CancellationToken ct)
    {
        byte[] query = Encoding.ASCII.GetBytes(AllocationContext);
        byte[] data = new byte[4 + name.Length + 4 + 4 + query.Length];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
        name.CopyTo(data, 4);
        int at = 4 + name.Length;
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(at), 1);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(at + 4), (uint)query.Length);
        query.CopyTo(data, at + 8);
        await SendOptionAsync(stream, NbdOption.SetMetaContext, data, ct);
        uint? id = null;
        while (true)
        {
            var reply = await ReadReplyAsync(stream, NbdOption.SetMetaContext, ct);
            if (reply.Type == NbdOptionReplyType.Ack) return id;
            if (IsError(reply.Type)) return null;   // no metadata contexts: GetExtents reports one data extent
            if (reply.Type != NbdOptionReplyType.MetaContext || reply.Data.Length < 4)
                throw new NbdProtocolException($"The server answered NBD_OPT_SET_META_CONTEXT with reply type {reply.Type} of {reply.Data.Length} bytes.");
            string contextName = Encoding.UTF8.GetString(reply.Data, 4, reply.Data.Length - 4);
            if (contextName == AllocationContext)
                id = BinaryPrimitives.ReadUInt32BigEndian(reply.Data);
        }
    }

    /// <summary>NBD_OPT_GO; null when the server does not know the option.</summary>
    private static async Task<NbdExportInfo?> GoAsync(Stream stream, byte[] name, string exportName, bool structured, uint? contextId, CancellationToken ct)
    {
        byte[] data = new byte[4 + name.Length + 2 + 2];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
        name.CopyTo(data, 4);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(4 + name.Length), 1);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(6 + name.Length), (ushort)NbdInfoType.BlockSize);
        await SendOptionAsync(stream, NbdOption.Go, data, ct);
        ulong? size = null;
        NbdTransmissionFlags flags = 0;
        uint minimum = 1, preferred = 4096, maximum = 32 * 1024 * 1024;
        while (true)
        {
            var reply = await ReadReplyAsync(stream, NbdOption.Go, ct);
            switch (reply.Type)
            {
                case NbdOptionReplyType.Ack:
                    if (size is null)
                        throw new NbdProtocolException("The server accepted NBD_OPT_GO without sending NBD_INFO_EXPORT (size and flags).");
                    if (minimum == 0 || minimum > 65536 || (minimum & (minimum - 1)) != 0 || preferred < minimum || maximum < minimum)
                        throw new NbdProtocolException($"The server's block sizes do not make sense: minimum {minimum}, preferred {preferred}, maximum {maximum}.");
                    return new NbdExportInfo(size.Value, flags, minimum, preferred, maximum, structured, contextId);
                case NbdOptionReplyType.Info:
                    if (reply.Data.Length < 2)
                        throw new NbdProtocolException($"NBD_REP_INFO of {reply.Data.Length} bytes is too short.");
                    var type = (NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(reply.Data);
                    if (type == NbdInfoType.Export)
                    {
                        if (reply.Data.Length != 12) throw new NbdProtocolException($"NBD_INFO_EXPORT is {reply.Data.Length} bytes, not 12.");
                        size = BinaryPrimitives.ReadUInt64BigEndian(reply.Data.AsSpan(2));
                        flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply.Data.AsSpan(10));
                    }
                    else if (type == NbdInfoType.BlockSize)
                    {
                        if (reply.Data.Length != 14) throw new NbdProtocolException($"NBD_INFO_BLOCK_SIZE is {reply.Data.Length} bytes, not 14.");
                        minimum = BinaryPrimitives.ReadUInt32BigEndian(reply.Data.AsSpan(2));
                        preferred = BinaryPrimitives.ReadUInt32BigEndian(reply.Data.AsSpan(6));
                        maximum = BinaryPrimitives.ReadUInt32BigEndian(reply.Data.AsSpan(10));
                    }
                    break;   // NAME, DESCRIPTION and unknown information are ignored
                case NbdOptionReplyType.ErrUnsup when size is null:
                    return null;
                case NbdOptionReplyType.ErrUnknown:
                    throw new NbdProtocolException($"The server has no export '{exportName}'{MessageOf(reply)}.");
                default:
                    if (IsError(reply.Type))
                        throw new NbdProtocolException($"The server refused export '{exportName}': {reply.Type}{MessageOf(reply)}.");
                    throw new NbdProtocolException($"The server answered NBD_OPT_GO with reply type {reply.Type}.");
            }
        }
    }

    private static string MessageOf(OptionReply reply) =>
        reply.Data.Length == 0 ? "" : $" ({Encoding.UTF8.GetString(reply.Data)})";

    private static bool IsError(NbdOptionReplyType type) => ((uint)type & 0x80000000) != 0;

    private readonly record struct OptionReply(NbdOptionReplyType Type, byte[] Data);

    private static async Task SendOptionAsync(Stream stream, NbdOption option, byte[] data, CancellationToken ct)
    {
        byte[] bytes = new byte[NbdOptionCodec.OptionHeaderLength + data.Length];
        NbdOptionCodec.TryWriteOption(bytes, option, data, out _);
        await stream.WriteAsync(bytes, ct);
    }

    private static async Task<OptionReply> ReadReplyAsync(Stream stream, NbdOption option, CancellationToken ct)
    {
        byte[] header = new byte[NbdOptionCodec.ReplyHeaderLength];
        await ReadExactly(stream, header, $"the reply to {option}", ct);
        ulong magic = BinaryPrimitives.ReadUInt64BigEndian(header);
        if (magic != NbdMagic.OptionReply)
            throw new NbdProtocolException($"The reply to {option} has magic 0x{magic:X16}, not the option reply magic.");
        var echoed = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
        if (echoed != option)
            throw new NbdProtocolException($"The server answered option {echoed} while {option} was asked.");
        var type = (NbdOptionReplyType)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16));
        if (length > MaxReplyLength)
            throw new NbdProtocolException($"The reply to {option} claims {length} bytes of data (at most {MaxReplyLength} accepted).");
        byte[] data = new byte[length];
        await ReadExactly(stream, data, $"the reply to {option}", ct);
        return new OptionReply(type, data);
    }

    private static async Task ReadExactly(Stream stream, byte[] buffer, string what, CancellationToken ct)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, ct);
        }
        catch (EndOfStreamException)
        {
            throw new NbdProtocolException($"The server closed the connection while sending {what}.");
        }
    }
}
