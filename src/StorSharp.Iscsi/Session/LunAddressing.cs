namespace StorSharp.Iscsi.Session;

/// <summary>
/// The 8-byte SAM LUN field (SAM-5 §4.7): peripheral device addressing (method 00b, LUN 0-255 on
/// bus 0) and flat space addressing (method 01b, LUN 0-16383). The field travels big endian in
/// the PDU; these helpers work on its value as read big endian.
/// </summary>
internal static class LunAddressing
{
    /// <summary>The REPORT LUNS well-known LUN (SPC-4 §8.2: W-LUN C101h, extended addressing).</summary>
    public const ulong ReportLunsWellKnown = 0xC101_0000_0000_0000UL;

    /// <summary>Encodes a LUN as REPORT LUNS lists it and initiators address it.</summary>
    public static ulong Encode(ulong lun)
    {
        if (lun < 256) return lun << 48; // 00b peripheral, bus 0
        if (lun <= 0x3FFF) return (0x4000UL | lun) << 48; // 01b flat space
        throw new ArgumentOutOfRangeException(nameof(lun), "LUNs above 16383 need extended addressing, which this target does not use.");
    }

    /// <summary>Decodes a LUN field; false for methods and buses this target does not serve.</summary>
    public static bool TryDecode(ulong field, out ulong lun)
    {
        lun = 0;
        int first = (int)(field >> 56);
        int second = (int)(field >> 48) & 0xFF;
        // Only single-level LUNs: the lower six bytes (second to fourth level) must be zero.
        if ((field & 0x0000_FFFF_FFFF_FFFFUL) != 0) return false;
        switch (first >> 6)
        {
            case 0:
                // Peripheral device addressing: the low six bits are a bus number. libiscsi (1.19) puts
                // LUNs 256..16383 here without the flat-space bits (0x012C for LUN 300), like tgt and
                // LIO we read both methods as a 14-bit LUN (quirk: LibiscsiPeripheralBus).
            case 1: // flat space addressing
                lun = (ulong)(((first & 0x3F) << 8) | second);
                return true;
            default:
                return false;
        }
    }
}
