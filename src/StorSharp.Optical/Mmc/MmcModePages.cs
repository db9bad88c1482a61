namespace StorSharp.Optical;

/// <summary>
/// The MMC mode pages: Read/Write Error Recovery (01h, MMC-6 §7.3) and MM Capabilities and
/// Mechanical Status (2Ah, the legacy page Linux sr and Windows cdrom.sys read for the drive's
/// abilities). Each page is kept as its bytes, page code and length included.
/// </summary>
internal static class MmcModePages
{
    public const byte ErrorRecovery = 0x01;
    public const byte Capabilities = 0x2A;

    /// <summary>Page 01h defaults: no special recovery flags, read retry count 16, write retry count 0, no time limit.</summary>
    public static readonly byte[] ErrorRecoveryDefault = [ErrorRecovery, 0x0A, 0x00, 0x10, 0, 0, 0, 0, 0x00, 0, 0, 0];

    /// <summary>Page 01h changeable bits: the error recovery flags (AWRE, ARRE, TB, RC, PER, DTE, DCR) and the read retry count.</summary>
    public static readonly byte[] ErrorRecoveryChangeable = [0, 0, 0xF7, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>The page 2Ah length written (30 bytes after the length byte, no write speed descriptors).</summary>
    public const int CapabilitiesLength = 32;

    /// <summary>The read speed reported in page 2Ah, in kB/s (the obsolete fields still read by hosts): 8x DVD.</summary>
    public const ushort ReadSpeedKBps = 11080;

    /// <summary>Writes page 2Ah as it is now (the lock state follows PREVENT ALLOW MEDIUM REMOVAL).</summary>
    public static void WriteCapabilities(Span<byte> p, bool locked)
    {
        p[..CapabilitiesLength].Clear();
        p[0] = Capabilities;
        p[1] = CapabilitiesLength - 2;
        p[2] = 0x0B;  // reads DVD-ROM (3), CD-RW (1), CD-R (0); no DVD-R/RAM, no Method 2
        p[3] = 0x00;  // writes nothing
        p[4] = 0x00;  // no audio play, no multi-session, no mode 2 forms, no digital ports
        p[5] = 0x00;  // no CD-DA commands, no sub-channel, no C2 pointers, no ISRC/UPC/bar code
        // LOADING MECHANISM TYPE 001b (tray), EJECT (3), LOCK STATE (1), LOCK (0).
        p[6] = (byte)(0x20 | 0x08 | (locked ? 0x02 : 0) | 0x01);
        p[7] = 0x00;
        p[8] = ReadSpeedKBps >> 8; p[9] = ReadSpeedKBps & 0xFF;   // maximum read speed (obsolete)
        p[14] = ReadSpeedKBps >> 8; p[15] = ReadSpeedKBps & 0xFF; // current read speed (obsolete)
        // Bytes 30-31: number of write speed performance descriptors = 0.
    }
}
