namespace StorSharp.Class;

/// <summary>The sense key (SPC-5 §4.4.8, table 49). Values are the wire values.</summary>
public enum SenseKey : byte
{
    /// <summary>NO SENSE.</summary>
    NoSense = 0x0,
    /// <summary>RECOVERED ERROR: the command succeeded after recovery.</summary>
    RecoveredError = 0x1,
    /// <summary>NOT READY.</summary>
    NotReady = 0x2,
    /// <summary>MEDIUM ERROR.</summary>
    MediumError = 0x3,
    /// <summary>HARDWARE ERROR.</summary>
    HardwareError = 0x4,
    /// <summary>ILLEGAL REQUEST.</summary>
    IllegalRequest = 0x5,
    /// <summary>UNIT ATTENTION.</summary>
    UnitAttention = 0x6,
    /// <summary>DATA PROTECT.</summary>
    DataProtect = 0x7,
    /// <summary>BLANK CHECK.</summary>
    BlankCheck = 0x8,
    /// <summary>VENDOR SPECIFIC.</summary>
    VendorSpecific = 0x9,
    /// <summary>COPY ABORTED.</summary>
    CopyAborted = 0xA,
    /// <summary>ABORTED COMMAND: the target gave up; the initiator may retry.</summary>
    AbortedCommand = 0xB,
    /// <summary>VOLUME OVERFLOW.</summary>
    VolumeOverflow = 0xD,
    /// <summary>MISCOMPARE.</summary>
    Miscompare = 0xE,
    /// <summary>COMPLETED.</summary>
    Completed = 0xF,
}

/// <summary>
/// The fields of sense data the class layer acts on, from either format (SPC-5 §4.4): fixed
/// (response codes 70h current / 71h deferred) or descriptor (72h / 73h).
/// </summary>
/// <param name="ResponseCode">70h, 71h, 72h or 73h.</param>
/// <param name="Key">The sense key.</param>
/// <param name="Asc">The additional sense code.</param>
/// <param name="Ascq">The additional sense code qualifier.</param>
public readonly record struct SenseInfo(byte ResponseCode, SenseKey Key, byte Asc, byte Ascq)
{
    /// <summary>True for the descriptor format (72h / 73h).</summary>
    public bool IsDescriptorFormat => ResponseCode is 0x72 or 0x73;

    /// <summary>True for deferred errors (71h / 73h): they belong to an earlier command.</summary>
    public bool IsDeferred => ResponseCode is 0x71 or 0x73;

    /// <summary>Parses sense data; false when it is too short or its response code is none of 70h to 73h.</summary>
    public static bool TryParse(ReadOnlySpan<byte> sense, out SenseInfo info)
    {
        info = default;
        if (sense.Length < 1) return false;
        byte code = (byte)(sense[0] & 0x7F); // bit 7 is VALID (fixed format)
        switch (code)
        {
            case 0x70 or 0x71:
                // SPC-5 §4.4.3: key in byte 2, ASC/ASCQ in bytes 12/13 (present when ADDITIONAL SENSE LENGTH covers them).
                if (sense.Length < 3) return false;
                byte asc = 0, ascq = 0;
                int additional = sense.Length >= 8 ? sense[7] : 0;
                if (sense.Length >= 13 && additional >= 5) asc = sense[12];
                if (sense.Length >= 14 && additional >= 6) ascq = sense[13];
                info = new SenseInfo(code, (SenseKey)(sense[2] & 0x0F), asc, ascq);
                return true;
            case 0x72 or 0x73:
                // SPC-5 §4.4.2: key in byte 1, ASC/ASCQ in bytes 2/3.
                if (sense.Length < 4) return false;
                info = new SenseInfo(code, (SenseKey)(sense[1] & 0x0F), sense[2], sense[3]);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Key and codes as <c>KEY asc/ascq</c>, for logs.</summary>
    public override string ToString() => $"{Key} {Asc:X2}/{Ascq:X2}";
}
