using System.Buffers.Binary;

namespace StorSharp.Scsi;

/// <summary>What a sense buffer says, as <see cref="SenseData.TryParse"/> reads it.</summary>
/// <param name="Code">Key, ASC and ASCQ.</param>
/// <param name="Descriptor">True for descriptor format (72h/73h), false for fixed (70h/71h).</param>
/// <param name="Deferred">True for a deferred error (71h/73h).</param>
/// <param name="InformationValid">True when <paramref name="Information"/> is valid.</param>
/// <param name="Information">The INFORMATION field (an LBA, or a miscompare offset).</param>
/// <param name="Specific">The sense-key-specific field.</param>
public readonly record struct SenseInfo(SenseCode Code, bool Descriptor, bool Deferred, bool InformationValid, ulong Information, SenseKeySpecific Specific);

/// <summary>
/// Builds and reads sense data (SPC-4 §4.5): fixed format (response code 70h, 18 bytes) and
/// descriptor format (72h, with information and sense-key-specific descriptors). Pure: no
/// allocation, no I/O.
/// </summary>
public static class SenseData
{
    /// <summary>The length of fixed-format sense data as built here (additional length 10).</summary>
    public const int FixedLength = 18;

    /// <summary>The longest descriptor-format sense data built here (header, information and sense-key-specific descriptors).</summary>
    public const int MaxDescriptorLength = 8 + 12 + 8;

    /// <summary>The largest buffer <see cref="Write"/> needs.</summary>
    public const int MaxLength = MaxDescriptorLength;

    /// <summary>Writes fixed-format sense data (response code 70h) and returns its length, 18.</summary>
    /// <param name="destination">At least 18 bytes.</param>
    /// <param name="code">Key, ASC and ASCQ.</param>
    /// <param name="specific">The sense-key-specific field, for example a field pointer.</param>
    /// <param name="information">The INFORMATION field, when valid (VALID bit set); only the low 32 bits fit.</param>
    public static int WriteFixed(Span<byte> destination, SenseCode code, SenseKeySpecific specific = default, ulong? information = null)
    {
        var d = destination[..FixedLength];
        d.Clear();
        d[0] = 0x70;
        if (information is { } info && info <= uint.MaxValue)
        {
            d[0] |= 0x80; // VALID: the INFORMATION field holds the value (SPC-4 §4.5.3)
            BinaryPrimitives.WriteUInt32BigEndian(d[3..], (uint)info);
        }
        d[2] = (byte)code.Key;
        d[7] = FixedLength - 8;
        d[12] = code.Asc;
        d[13] = code.Ascq;
        if (specific.IsValid) specific.WriteTo(d[15..]);
        return FixedLength;
    }

    /// <summary>Writes descriptor-format sense data (response code 72h) and returns its length.</summary>
    /// <param name="destination">At least <see cref="MaxDescriptorLength"/> bytes.</param>
    /// <param name="code">Key, ASC and ASCQ.</param>
    /// <param name="specific">The sense-key-specific field; a descriptor is added when valid.</param>
    /// <param name="information">The INFORMATION field; an information descriptor is added when given.</param>
    public static int WriteDescriptor(Span<byte> destination, SenseCode code, SenseKeySpecific specific = default, ulong? information = null)
    {
        destination[..8].Clear();
        destination[0] = 0x72;
        destination[1] = (byte)code.Key;
        destination[2] = code.Asc;
        destination[3] = code.Ascq;
        int n = 8;
        if (information is { } info)
        {
            // SPC-4 §4.5.2.2: information descriptor, type 00h, additional length 0Ah, VALID bit.
            var d = destination.Slice(n, 12);
            d.Clear();
            d[0] = 0x00;
            d[1] = 0x0A;
            d[2] = 0x80;
            BinaryPrimitives.WriteUInt64BigEndian(d[4..], info);
            n += 12;
        }
        if (specific.IsValid)
        {
            // SPC-4 §4.5.2.4: sense key specific descriptor, type 02h, additional length 06h.
            var d = destination.Slice(n, 8);
            d.Clear();
            d[0] = 0x02;
            d[1] = 0x06;
            specific.WriteTo(d[4..]);
            n += 8;
        }
        destination[7] = (byte)(n - 8);
        return n;
    }

    /// <summary>Writes sense data in the format asked for and returns its length.</summary>
    public static int Write(Span<byte> destination, bool descriptorFormat, SenseCode code, SenseKeySpecific specific = default, ulong? information = null) =>
        descriptorFormat ? WriteDescriptor(destination, code, specific, information) : WriteFixed(destination, code, specific, information);

    /// <summary>
    /// Reads fixed or descriptor sense data, also when truncated (SPC-4 §4.5.1 lets a device return
    /// fewer bytes than the format holds): fields past the end, or past the ADDITIONAL SENSE LENGTH,
    /// read as zero.
    /// </summary>
    /// <returns>False when the buffer is too short to hold the sense key or the response code is unknown.</returns>
    public static bool TryParse(ReadOnlySpan<byte> sense, out SenseInfo info)
    {
        info = default;
        if (sense.Length < 1) return false;
        int responseCode = sense[0] & 0x7F;
        switch (responseCode)
        {
            case 0x70 or 0x71:
            {
                if (sense.Length < 3) return false;
                // SPC-4 §4.5.3: ASC and ASCQ are bytes 12 and 13, present when the additional length covers them.
                int end = sense.Length >= 8 ? Math.Min(sense.Length, 8 + sense[7]) : sense.Length;
                var code = new SenseCode((SenseKey)(sense[2] & 0x0F), end > 12 ? sense[12] : (byte)0, end > 13 ? sense[13] : (byte)0);
                bool valid = (sense[0] & 0x80) != 0 && sense.Length >= 7;
                ulong information = sense.Length >= 7 ? BinaryPrimitives.ReadUInt32BigEndian(sense[3..]) : 0;
                var specific = end >= 18 ? SenseKeySpecific.Read(sense[15..]) : default;
                info = new SenseInfo(code, false, responseCode == 0x71, valid, information, specific);
                return true;
            }
            case 0x72 or 0x73:
            {
                if (sense.Length < 4) return false;
                var code = new SenseCode((SenseKey)(sense[1] & 0x0F), sense[2], sense[3]);
                int end = sense.Length >= 8 ? Math.Min(sense.Length, 8 + sense[7]) : 0;
                bool valid = false;
                ulong information = 0;
                SenseKeySpecific specific = default;
                for (int i = 8; i + 2 <= end;)
                {
                    int type = sense[i], length = sense[i + 1];
                    if (i + 2 + length > end) break;
                    if (type == 0x00 && length >= 0x0A)
                    {
                        valid = (sense[i + 2] & 0x80) != 0;
                        information = BinaryPrimitives.ReadUInt64BigEndian(sense[(i + 4)..]);
                    }
                    else if (type == 0x02 && length >= 0x06)
                    {
                        specific = SenseKeySpecific.Read(sense[(i + 4)..]);
                    }
                    i += 2 + length;
                }
                info = new SenseInfo(code, true, responseCode == 0x73, valid, information, specific);
                return true;
            }
            default:
                return false;
        }
    }
}
