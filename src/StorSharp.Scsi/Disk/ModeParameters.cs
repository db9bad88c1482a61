namespace StorSharp.Scsi;

/// <summary>
/// The current values of the mode pages an LU implements (SPC-4 §7.5, SBC-4 §6.5). Saved values
/// are not implemented: nothing survives a restart, and PC = 11b or SP = 1 are refused.
/// </summary>
internal sealed class ModeParameters(bool descriptorSense)
{
    /// <summary>WCE in the caching page: writes may be cached; SYNCHRONIZE CACHE matters. With WCE = 0 every write is forced to the medium (FUA).</summary>
    public volatile bool WriteCacheEnabled = true;

    /// <summary>D_SENSE in the control page: report descriptor-format sense.</summary>
    public volatile bool DescriptorSense = descriptorSense;

    /// <summary>SWP in the control page: software write protect.</summary>
    public volatile bool SoftwareWriteProtect;

    /// <summary>DEXCPT in the informational exceptions page (1 = informational exceptions disabled).</summary>
    public volatile bool DisableExceptions = true;

    /// <summary>MRIE in the informational exceptions page.</summary>
    public volatile byte ReportingMethod;

    /// <summary>The values a fresh LU starts with (PC = 10b).</summary>
    public static ModeParameters Defaults(bool descriptorSense) => new(descriptorSense);

    public void CopyFrom(ModeParameters other)
    {
        WriteCacheEnabled = other.WriteCacheEnabled;
        DescriptorSense = other.DescriptorSense;
        SoftwareWriteProtect = other.SoftwareWriteProtect;
        DisableExceptions = other.DisableExceptions;
        ReportingMethod = other.ReportingMethod;
    }
}

/// <summary>One mode page: its code, its length, how to write its values, which bits MODE SELECT may change, and how to apply them.</summary>
internal sealed record ModePage(byte Code, string Name, int Length, byte[] ChangeableMask,
    Action<ModeParameters, Span<byte>> Write, Action<ModeParameters, ReadOnlySpan<byte>> Apply);

/// <summary>The mode pages of a SCSI disk, keyed by page code, in the order MODE SENSE returns them.</summary>
internal static class ModePages
{
    public static readonly ModePage[] All =
    [
        // SBC-4 §6.5.5 caching mode page: WCE (byte 2 bit 2) is changeable.
        new(0x08, "Caching", 20, Mask(20, (2, 0x04)),
            static (v, p) => { if (v.WriteCacheEnabled) p[2] |= 0x04; },
            static (v, p) => v.WriteCacheEnabled = (p[2] & 0x04) != 0),
        // SPC-4 §7.5.8 control mode page: D_SENSE (byte 2 bit 2) and SWP (byte 4 bit 3) are
        // changeable; QUEUE ALGORITHM MODIFIER 1 (unrestricted reordering of SIMPLE tasks).
        new(0x0A, "Control", 12, Mask(12, (2, 0x04), (4, 0x08)),
            static (v, p) =>
            {
                if (v.DescriptorSense) p[2] |= 0x04;
                p[3] = 0x10;
                if (v.SoftwareWriteProtect) p[4] |= 0x08;
            },
            static (v, p) =>
            {
                v.DescriptorSense = (p[2] & 0x04) != 0;
                v.SoftwareWriteProtect = (p[4] & 0x08) != 0;
            }),
        // SPC-4 §7.5.13 informational exceptions control page: DEXCPT and MRIE are changeable.
        new(0x1C, "Informational Exceptions Control", 12, Mask(12, (2, 0x08), (3, 0x0F)),
            static (v, p) =>
            {
                if (v.DisableExceptions) p[2] |= 0x08;
                p[3] = v.ReportingMethod;
            },
            static (v, p) =>
            {
                v.DisableExceptions = (p[2] & 0x08) != 0;
                v.ReportingMethod = (byte)(p[3] & 0x0F);
            }),
    ];

    public static ModePage? Find(byte code)
    {
        foreach (var p in All) if (p.Code == code) return p;
        return null;
    }

    private static byte[] Mask(int length, params (int Index, byte Bits)[] bits)
    {
        var mask = new byte[length];
        foreach (var (i, b) in bits) mask[i] = b;
        return mask;
    }

    /// <summary>Writes a page with page control <paramref name="pc"/> (0 current, 1 changeable, 2 default) and returns its length.</summary>
    public static int WritePage(ModePage page, int pc, ModeParameters current, ModeParameters defaults, Span<byte> destination)
    {
        var d = destination[..page.Length];
        d.Clear();
        if (pc == 1) page.ChangeableMask.CopyTo(d);
        else page.Write(pc == 2 ? defaults : current, d);
        d[0] = page.Code;
        d[1] = (byte)(page.Length - 2);
        return page.Length;
    }
}
