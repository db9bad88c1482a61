namespace StorSharp.Scsi;

/// <summary>
/// A sense key with its additional sense code and qualifier (ASC/ASCQ, SPC-4 §4.5.6 and annex D):
/// what a CHECK CONDITION means, for example ILLEGAL REQUEST / 24h / 00h.
/// </summary>
/// <param name="Key">The sense key.</param>
/// <param name="Asc">The additional sense code.</param>
/// <param name="Ascq">The additional sense code qualifier.</param>
public readonly record struct SenseCode(SenseKey Key, byte Asc, byte Ascq)
{
    /// <summary>Key, ASC and ASCQ as <c>Key/ASC/ASCQ</c> in hex, the way sg3_utils prints them.</summary>
    public override string ToString() => $"{Key}/{Asc:X2}/{Ascq:X2}";
}

/// <summary>
/// The sense-key-specific field (SPC-4 §4.5.2.4): three bytes whose meaning depends on the
/// sense key. For ILLEGAL REQUEST it points at the offending field (SKSV, C/D, BPV, bit
/// pointer, field pointer); for NOT READY it can carry progress.
/// </summary>
public readonly struct SenseKeySpecific : IEquatable<SenseKeySpecific>
{
    private readonly byte _b0, _b1, _b2;

    private SenseKeySpecific(byte b0, byte b1, byte b2) { _b0 = b0; _b1 = b1; _b2 = b2; }

    /// <summary>True when the field carries information (the SKSV bit).</summary>
    public bool IsValid => (_b0 & 0x80) != 0;

    /// <summary>
    /// An ILLEGAL REQUEST field pointer (SPC-4 §4.5.2.4.2).
    /// </summary>
    /// <param name="inCdb">True when the error is in the CDB (C/D = 1), false when in the parameter data.</param>
    /// <param name="byteIndex">The byte of the CDB or parameter list that is in error.</param>
    /// <param name="bit">The bit of that byte (0 to 7), or -1 for the whole byte (BPV = 0).</param>
    public static SenseKeySpecific FieldPointer(bool inCdb, int byteIndex, int bit = -1)
    {
        byte b0 = (byte)(0x80 | (inCdb ? 0x40 : 0));
        if (bit is >= 0 and <= 7) b0 |= (byte)(0x08 | bit);
        return new SenseKeySpecific(b0, (byte)(byteIndex >> 8), (byte)byteIndex);
    }

    /// <summary>A field pointer into the CDB (C/D = 1).</summary>
    public static SenseKeySpecific Cdb(int byteIndex, int bit = -1) => FieldPointer(true, byteIndex, bit);

    /// <summary>A field pointer into the parameter list (C/D = 0).</summary>
    public static SenseKeySpecific Parameter(int byteIndex, int bit = -1) => FieldPointer(false, byteIndex, bit);

    /// <summary>
    /// A segment pointer for COPY ABORTED (SPC-4 §4.5.2.4.5): SD = 1 and the byte offset, from the
    /// start of the EXTENDED COPY parameter list, of the segment descriptor being processed.
    /// </summary>
    public static SenseKeySpecific Segment(int byteOffset) => new(0x80 | 0x20, (byte)(byteOffset >> 8), (byte)byteOffset);

    /// <summary>Progress indication for NOT READY or NO SENSE (SPC-4 §4.5.2.4.3): <paramref name="fraction"/> of 65536.</summary>
    public static SenseKeySpecific Progress(ushort fraction) => new(0x80, (byte)(fraction >> 8), (byte)fraction);

    /// <summary>The C/D bit: the field pointer points into the CDB.</summary>
    public bool IsInCdb => (_b0 & 0x40) != 0;

    /// <summary>The bit pointer, or -1 when BPV is 0.</summary>
    public int BitPointer => (_b0 & 0x08) != 0 ? _b0 & 0x07 : -1;

    /// <summary>The field pointer (byte index), or the progress indication.</summary>
    public int Field => (_b1 << 8) | _b2;

    /// <summary>Writes the three bytes.</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination[0] = _b0;
        destination[1] = _b1;
        destination[2] = _b2;
    }

    /// <summary>Reads the three bytes.</summary>
    public static SenseKeySpecific Read(ReadOnlySpan<byte> source) => new(source[0], source[1], source[2]);

    /// <inheritdoc/>
    public bool Equals(SenseKeySpecific other) => _b0 == other._b0 && _b1 == other._b1 && _b2 == other._b2;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SenseKeySpecific other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => (_b0 << 16) | (_b1 << 8) | _b2;

    /// <summary>Equality.</summary>
    public static bool operator ==(SenseKeySpecific left, SenseKeySpecific right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(SenseKeySpecific left, SenseKeySpecific right) => !left.Equals(right);

    /// <summary>The fields, for test output.</summary>
    public override string ToString() => IsValid ? $"SKSV C/D={(IsInCdb ? 1 : 0)} bit={BitPointer} field={Field}" : "none";
}
