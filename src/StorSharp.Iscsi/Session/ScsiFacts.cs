using System.Buffers.Binary;

namespace StorSharp.Iscsi.Session;

/// <summary>
/// The little SCSI knowledge a transport needs: CDB lengths, the data length a CDB implies (for
/// exact iSCSI residuals, RFC 7143 §11.4.5), sense data, and the answers a target gives for LUNs
/// it does not have (SPC-4 §6.6.2 INQUIRY with PQ=3, §6.33 REPORT LUNS).
/// </summary>
internal static class ScsiFacts
{
    public const byte Inquiry = 0x12;
    public const byte RequestSense = 0x03;
    public const byte ReportLuns = 0xA0;
    public const byte ReadCapacity10 = 0x25;
    public const byte ServiceActionIn16 = 0x9E;
    public const byte ReadCapacity16ServiceAction = 0x10;

    public const byte SenseNotReady = 0x02;
    public const byte SenseHardwareError = 0x04;
    public const byte SenseIllegalRequest = 0x05;
    public const byte SenseUnitAttention = 0x06;
    public const byte SenseAbortedCommand = 0x0B;

    /// <summary>The CDB length from the operation code's group (SPC-4 §4.2.5.1); 0 for variable-length CDBs whose length is in byte 7.</summary>
    public static int CdbLength(ReadOnlySpan<byte> cdb) => (cdb[0] >> 5) switch
    {
        0 => 6,
        1 or 2 => 10,
        3 => cdb[0] == 0x7F ? Math.Min(8 + cdb[7], 32) : 16,
        4 => 16,
        5 => 12,
        _ => 16,
    };

    /// <summary>
    /// The bytes a block command moves (SPDTL), or -1 when the CDB does not say in a way this
    /// transport knows (allocation-length commands report what they moved through the SRB).
    /// </summary>
    public static long ExpectedDataBytes(ReadOnlySpan<byte> cdb, int blockSize)
    {
        if (blockSize <= 0 || cdb.Length < 6) return -1;
        switch (cdb[0])
        {
            case 0x08: // READ(6)
            case 0x0A: // WRITE(6)
                return (cdb[4] == 0 ? 256L : cdb[4]) * blockSize;
            case 0x28: case 0x2A: case 0x2E: // READ/WRITE/WRITE AND VERIFY(10)
                return (long)BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]) * blockSize;
            case 0x2F: // VERIFY(10): data only with BYTCHK (SBC-4 §5.33)
                return VerifyBytes(cdb[1], BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]), blockSize);
            case 0xA8: case 0xAA: case 0xAE:
                return cdb.Length < 12 ? -1 : (long)BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]) * blockSize;
            case 0xAF:
                return cdb.Length < 12 ? -1 : VerifyBytes(cdb[1], BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]), blockSize);
            case 0x88: case 0x8A: case 0x8E:
                return cdb.Length < 16 ? -1 : (long)BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]) * blockSize;
            case 0x8F:
                return cdb.Length < 16 ? -1 : VerifyBytes(cdb[1], BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]), blockSize);
            case 0x89: // COMPARE AND WRITE: verify and write data, 2 x NUMBER OF LOGICAL BLOCKS
                return cdb.Length < 16 ? -1 : 2L * cdb[13] * blockSize;
            default:
                return -1;
        }
    }

    /// <summary>
    /// Shortens a READ/WRITE/WRITE AND VERIFY CDB so it moves only the whole blocks within
    /// <paramref name="bytes"/>: FCP-4 §9.4.2 / SAM-5 overflow rule (a), "process the command normally
    /// except that data beyond the expected length is not transferred". A partial last block is not
    /// written (a block is written whole or not at all), and fewer bytes than one block make a
    /// zero-block command: initiators that assume 512-byte blocks (libiscsi's reservation checks
    /// write 512 bytes to any LU) get GOOD with the overflow, or RESERVATION CONFLICT, not an error
    /// about the length. False when the CDB cannot express it (zero blocks in a 6-byte CDB means 256).
    /// </summary>
    public static bool TryTruncateTransfer(Span<byte> cdb, int blockSize, long bytes)
    {
        if (blockSize <= 0 || bytes < 0) return false;
        long blocks = bytes / blockSize;
        switch (cdb[0])
        {
            case 0x08: case 0x0A:
                if (blocks == 0 || blocks > 255) return false; // 0 means 256 blocks in a 6-byte CDB
                cdb[4] = (byte)blocks;
                return true;
            case 0x28: case 0x2A: case 0x2E:
                BinaryPrimitives.WriteUInt16BigEndian(cdb[7..], (ushort)blocks);
                return true;
            case 0xA8: case 0xAA: case 0xAE:
                BinaryPrimitives.WriteUInt32BigEndian(cdb[6..], (uint)blocks);
                return true;
            case 0x88: case 0x8A: case 0x8E:
                BinaryPrimitives.WriteUInt32BigEndian(cdb[10..], (uint)blocks);
                return true;
            default:
                return false;
        }
    }

    private static long VerifyBytes(byte flags, uint blocks, int blockSize) => ((flags >> 1) & 3) switch
    {
        0 => 0,
        1 => (long)blocks * blockSize,
        3 => blockSize,
        _ => -1,
    };

    /// <summary>Writes 18 bytes of fixed-format sense data (SPC-4 §4.5.3).</summary>
    public static int FixedSense(Span<byte> destination, byte key, byte asc, byte ascq)
    {
        destination[..18].Clear();
        destination[0] = 0x70;
        destination[2] = key;
        destination[7] = 10;
        destination[12] = asc;
        destination[13] = ascq;
        return 18;
    }

    /// <summary>REPORT LUNS parameter data (SPC-4 §6.33) for <paramref name="luns"/>.</summary>
    public static int ReportLunsData(Span<byte> destination, ReadOnlySpan<ulong> luns)
    {
        int total = 8 + 8 * luns.Length;
        Span<byte> header = stackalloc byte[8];
        header.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)(8 * luns.Length));
        int written = Copy(header, destination, 0);
        Span<byte> entry = stackalloc byte[8];
        foreach (var lun in luns)
        {
            BinaryPrimitives.WriteUInt64BigEndian(entry, LunAddressing.Encode(lun));
            written += Copy(entry, destination, written);
        }
        _ = total;
        return written;
    }

    private static int Copy(ReadOnlySpan<byte> source, Span<byte> destination, int offset)
    {
        if (offset >= destination.Length) return 0;
        int n = Math.Min(source.Length, destination.Length - offset);
        source[..n].CopyTo(destination[offset..]);
        return n;
    }

    /// <summary>Standard INQUIRY data for a LUN that does not exist: PQ=3, PDT=1Fh (SPC-4 §6.6.2).</summary>
    public static int MissingLunInquiry(ReadOnlySpan<byte> cdb, Span<byte> destination)
    {
        Span<byte> data = stackalloc byte[36];
        data.Clear();
        data[0] = 0x7F; // peripheral qualifier 011b, device type 1Fh
        if ((cdb[1] & 1) != 0)
        {
            data[1] = cdb[2]; // EVPD: the page header, empty
            int n = Math.Min(4, destination.Length);
            data[..n].CopyTo(destination);
            return n;
        }
        data[2] = 0x06; // SPC-4
        data[3] = 0x02; // response data format 2
        data[4] = 31;
        "STORSHAR"u8.CopyTo(data[8..]);
        "NO LUN          "u8.CopyTo(data[16..]);
        "0001"u8.CopyTo(data[32..]);
        int len = Math.Min(36, destination.Length);
        data[..len].CopyTo(destination);
        return len;
    }
}
