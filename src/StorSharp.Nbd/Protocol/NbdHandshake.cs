using System.Buffers;
using System.Buffers.Binary;

namespace StorSharp.Nbd.Protocol;

/// <summary>The fixed-newstyle greeting and the end of NBD_OPT_EXPORT_NAME (proto.md "Newstyle negotiation").</summary>
public static class NbdHandshake
{
    /// <summary>NBDMAGIC (8), IHAVEOPT (8), handshake flags (2).</summary>
    public const int ServerGreetingLength = 18;

    /// <summary>The client's flags: one u32.</summary>
    public const int ClientFlagsLength = 4;

    /// <summary>Export size (8) and transmission flags (2) after NBD_OPT_EXPORT_NAME.</summary>
    public const int ExportNameReplyLength = 10;

    /// <summary>The zero bytes that follow unless both sides set NO_ZEROES.</summary>
    public const int ExportNameZeroPadding = 124;

    /// <summary>Writes the server's greeting.</summary>
    public static bool TryWriteServerGreeting(Span<byte> destination, NbdHandshakeFlags flags, out int written)
    {
        written = 0;
        if (destination.Length < ServerGreetingLength) return false;
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdMagic.NbdMagicValue);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt16BigEndian(destination[16..], (ushort)flags);
        written = ServerGreetingLength;
        return true;
    }

    /// <summary>Reads the client's flags; false until 4 bytes are there.</summary>
    public static bool TryReadClientFlags(in ReadOnlySequence<byte> buffer, out NbdClientFlags flags)
    {
        flags = NbdClientFlags.None;
        if (buffer.Length < ClientFlagsLength) return false;
        Span<byte> bytes = stackalloc byte[ClientFlagsLength];
        buffer.Slice(0, ClientFlagsLength).CopyTo(bytes);
        flags = (NbdClientFlags)BinaryPrimitives.ReadUInt32BigEndian(bytes);
        return true;
    }

    /// <summary>Writes the reply to NBD_OPT_EXPORT_NAME: size, flags and (unless <paramref name="noZeroes"/>) 124 zero bytes.</summary>
    public static bool TryWriteExportNameReply(Span<byte> destination, ulong size, NbdTransmissionFlags flags, bool noZeroes, out int written)
    {
        int length = ExportNameReplyLength + (noZeroes ? 0 : ExportNameZeroPadding);
        written = 0;
        if (destination.Length < length) return false;
        BinaryPrimitives.WriteUInt64BigEndian(destination, size);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], (ushort)flags);
        destination[ExportNameReplyLength..length].Clear();
        written = length;
        return true;
    }
}
