using System.Buffers.Binary;
using System.Text;

namespace StorSharp.Scsi;

/// <summary>
/// The miniport-specific requests of <see cref="ScsiDiskMiniport"/>, sent as
/// <see cref="Port.SrbFunction.IoControl"/> SRBs (Storport's <c>SRB_FUNCTION_IO_CONTROL</c>): the
/// SRB's data buffer starts with an <c>SRB_IO_CONTROL</c> header (little-endian, 28 bytes:
/// HeaderLength, Signature[8], Timeout, ControlCode, ReturnCode, Length) whose signature is
/// <see cref="Signature"/>. The miniport writes <c>ReturnCode</c> (0 = done) and completes the SRB
/// with <c>SUCCESS</c>; an unknown signature or control code completes with <c>INVALID_REQUEST</c>.
/// </summary>
public static class ScsiDiskControl
{
    /// <summary>The <c>SRB_IO_CONTROL.Signature</c> of StorSharp's disk requests (8 ASCII characters).</summary>
    public const string Signature = "StorShrp";

    /// <summary>The size of the <c>SRB_IO_CONTROL</c> header.</summary>
    public const int HeaderLength = 28;

    /// <summary>
    /// I_T NEXUS LOSS (SAM-5 §6.3.4): the front end lost the I_T nexus of the SRB's
    /// <see cref="Port.Srb.Nexus"/> (iSCSI: the session ended by logout, a dropped connection or
    /// reinstatement) for the SRB's LU. The LU releases what the nexus held that does not outlive
    /// it: a RESERVE(6)/(10) reservation (SPC-2 §5.5.1), its PREVENT MEDIUM REMOVAL (SBC-4 §5.18),
    /// pending unit attentions and sense. Persistent reservations and registrations stay (SPC-4
    /// §5.12.1: they survive I_T nexus loss).
    /// </summary>
    public const uint ItNexusLoss = 1;

    /// <summary>Writes an <c>SRB_IO_CONTROL</c> header for <paramref name="controlCode"/> with no payload.</summary>
    /// <param name="destination">At least <see cref="HeaderLength"/> bytes.</param>
    /// <param name="controlCode">For example <see cref="ItNexusLoss"/>.</param>
    /// <returns>The bytes written (<see cref="HeaderLength"/>).</returns>
    public static int WriteRequest(Span<byte> destination, uint controlCode)
    {
        var d = destination[..HeaderLength];
        d.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, HeaderLength);
        Encoding.ASCII.GetBytes(Signature, d[4..12]);
        BinaryPrimitives.WriteUInt32LittleEndian(d[16..], controlCode);
        return HeaderLength;
    }

    /// <summary>Reads the control code of a request with <see cref="Signature"/>; false when the header is short or carries another signature.</summary>
    public static bool TryReadRequest(ReadOnlySpan<byte> header, out uint controlCode)
    {
        controlCode = 0;
        if (header.Length < HeaderLength || BinaryPrimitives.ReadUInt32LittleEndian(header) < HeaderLength) return false;
        Span<byte> signature = stackalloc byte[8];
        Encoding.ASCII.GetBytes(Signature, signature);
        if (!header[4..12].SequenceEqual(signature)) return false;
        controlCode = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        return true;
    }

    /// <summary>The offset of <c>ReturnCode</c> in the header.</summary>
    internal const int ReturnCodeOffset = 20;
}
