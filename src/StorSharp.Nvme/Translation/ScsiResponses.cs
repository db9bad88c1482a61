using System.Buffers.Binary;
using System.Text;
using StorSharp.Scsi;

namespace StorSharp.Nvme;

/// <summary>
/// The parameter data the SCSI-to-NVMe translation answers from the controller's and namespace's
/// identify data: INQUIRY and its VPD pages, READ CAPACITY, MODE SENSE pages, REPORT LUNS. Pure
/// writers into a caller's buffer; no allocation.
/// </summary>
internal static class ScsiResponses
{
    /// <summary>The T10 vendor identification stornvme reports for NVMe devices.</summary>
    public const string VendorId = "NVMe";

    /// <summary>The VPD pages served, in order.</summary>
    public static ReadOnlySpan<byte> VpdPages => [0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2];

    /// <summary>
    /// The most blocks one WRITE SAME may cover: 65535, one Write Zeroes command (NLB is 16 bits,
    /// 0-based, so 65536 would fit), as the SCSI disk and LIO report. A host may take MAXIMUM WRITE
    /// SAME LENGTH for what a WRITE may carry too (libiscsi's WriteSame16.Unmap writes 65536 blocks
    /// first when it is 65536 or more), and a WRITE is limited by MAXIMUM TRANSFER LENGTH.
    /// </summary>
    public const int MaxWriteSameBlocks = 65535;

    /// <summary>
    /// The most blocks one COMPARE AND WRITE may cover (VPD B0h): 64, as the SCSI disk, or fewer
    /// when twice that does not fit the MDTS (both halves sit in one bounce buffer).
    /// </summary>
    public static int MaxCompareAndWriteBlocks(int maxTransferBytes, int blockSize) => Math.Max(1, Math.Min(64, maxTransferBytes / blockSize / 2));

    /// <summary>
    /// Standard INQUIRY data: 96 bytes with the version descriptors SAM-5, SPC-4 and SBC-3 (the
    /// command set the translation answers), or 36 bytes when <paramref name="unit"/> is null (no
    /// LU at this address: peripheral qualifier 3).
    /// </summary>
    public static int Inquiry(NvmeUnit? unit, Span<byte> d)
    {
        if (unit is null)
        {
            d[..36].Clear();
            d[0] = 0x7F;
            d[4] = 31;
            return 36;
        }
        d[..96].Clear();
        d[0] = 0x00;            // direct-access block device
        d[2] = 0x06;            // SPC-4
        d[3] = 0x12;            // HISUP, response data format 2
        d[4] = 96 - 5;
        d[7] = 0x02;            // CMDQUE
        Ascii(d.Slice(8, 8), VendorId);
        Ascii(d.Slice(16, 16), unit.Definition.ProductId);
        Ascii(d.Slice(32, 4), unit.Definition.ProductRevision);
        BinaryPrimitives.WriteUInt16BigEndian(d[58..], 0x00A0); // SAM-5
        BinaryPrimitives.WriteUInt16BigEndian(d[60..], 0x0460); // SPC-4
        BinaryPrimitives.WriteUInt16BigEndian(d[62..], 0x04C0); // SBC-3
        return 96;
    }

    /// <summary>A VPD page, or -1 when the page is not served.</summary>
    public static int Vpd(byte page, NvmeUnit unit, int maxTransferBytes, int pageSize, Span<byte> d)
    {
        var ns = unit.Namespace;
        int blockSize = ns.BlockSize;
        d[..64].Clear();
        d[1] = page;
        int length;
        switch (page)
        {
            case 0x00:
                VpdPages.CopyTo(d[4..]);
                length = VpdPages.Length;
                break;
            case 0x80:
                length = Encoding.ASCII.GetBytes(unit.SerialNumber, d[4..]);
                break;
            case 0x83:
                // EUI-64 designator (type 2, binary, associated with the LU), from Identify Namespace EUI64.
                d[4] = 0x01;
                d[5] = 0x02;
                d[7] = 8;
                for (int i = 0; i < 8; i++) d[8 + i] = ns.Eui64[i];
                length = 12;
                break;
            case 0xB0:
                length = 0x3C;
                d[4] = 0x01; // WSNZ: WRITE SAME of 0 blocks is refused
                d[5] = (byte)MaxCompareAndWriteBlocks(maxTransferBytes, blockSize);
                BinaryPrimitives.WriteUInt16BigEndian(d[6..], (ushort)Math.Max(1, pageSize / blockSize)); // optimal granularity: one memory page
                BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)(maxTransferBytes / blockSize));  // MAXIMUM TRANSFER LENGTH: the MDTS (the port refuses more)
                BinaryPrimitives.WriteUInt32BigEndian(d[12..], (uint)(maxTransferBytes / blockSize)); // OPTIMAL TRANSFER LENGTH: one NVMe command
                if (ns.SupportsDeallocate)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(d[20..], uint.MaxValue);                 // a DSM range's length is 32 bits
                    BinaryPrimitives.WriteUInt32BigEndian(d[24..], NvmeController.MaxDatasetRanges); // one DSM command's ranges
                    BinaryPrimitives.WriteUInt32BigEndian(d[28..], 1);
                }
                BinaryPrimitives.WriteUInt64BigEndian(d[36..], MaxWriteSameBlocks);
                break;
            case 0xB1:
                length = 0x3C;
                d[5] = 0x01; // MEDIUM ROTATION RATE 0001h: non-rotating (solid state)
                break;
            case 0xB2:
                length = 4;
                if (ns.SupportsDeallocate)
                {
                    d[5] = (byte)(0xE0 | (ns.DeallocatedReadsZeroes ? 0x04 : 0)); // LBPU, LBPWS, LBPWS10; LBPRZ 001b
                    d[6] = 0x02; // thin provisioned
                }
                break;
            default:
                return -1;
        }
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], (ushort)length);
        return 4 + length;
    }

    /// <summary>READ CAPACITY(10) data: the last LBA (FFFFFFFFh when it does not fit) and the block length.</summary>
    public static int ReadCapacity10(NvmeNamespace ns, Span<byte> d)
    {
        long last = ns.BlockCount - 1;
        BinaryPrimitives.WriteUInt32BigEndian(d, last > uint.MaxValue ? uint.MaxValue : (uint)last);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], (uint)ns.BlockSize);
        return 8;
    }

    /// <summary>READ CAPACITY(16) data, 32 bytes, with LBPME and LBPRZ when the namespace deallocates.</summary>
    public static int ReadCapacity16(NvmeNamespace ns, Span<byte> d)
    {
        d[..32].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(d, (ulong)(ns.BlockCount - 1));
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)ns.BlockSize);
        d[13] = (byte)(ns.Device.Geometry.PhysicalBlockExponent & 0x0F);
        if (ns.SupportsDeallocate) d[14] = (byte)(0x80 | (ns.DeallocatedReadsZeroes ? 0x40 : 0));
        return 32;
    }

    /// <summary>
    /// MODE SENSE data: header (4 bytes for (6), 8 for (10)), a short block descriptor unless DBD,
    /// then the caching page (08h), the control page (0Ah) or both (3Fh). Returns -1 for another page.
    /// </summary>
    public static int ModeSense(NvmeNamespace ns, bool ten, bool dbd, int pc, int page, Span<byte> d)
    {
        int header = ten ? 8 : 4;
        d[..(header + 8 + 20 + 12)].Clear();
        int at = header;
        if (!dbd)
        {
            long blocks = ns.BlockCount;
            BinaryPrimitives.WriteUInt32BigEndian(d[at..], blocks > uint.MaxValue ? uint.MaxValue : (uint)blocks);
            BinaryPrimitives.WriteUInt32BigEndian(d[(at + 4)..], (uint)ns.BlockSize & 0xFFFFFF);
            at += 8;
        }
        bool changeable = pc == 1;
        if (page is 0x08 or 0x3F)
        {
            d[at] = 0x08;
            d[at + 1] = 0x12;
            if (!changeable && ns.VolatileWriteCache) d[at + 2] = 0x04; // WCE: the volatile write cache is on
            at += 20;
        }
        if (page is 0x0A or 0x3F)
        {
            d[at] = 0x0A;
            d[at + 1] = 0x0A;
            if (!changeable) BinaryPrimitives.WriteUInt16BigEndian(d[(at + 10)..], 0xFFFF); // busy timeout: unlimited
            at += 12;
        }
        if (at == header + (dbd ? 0 : 8)) return -1;
        byte deviceSpecific = (byte)((ns.WriteProtected ? 0x80 : 0) | 0x10); // WP, DPOFUA
        if (ten)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)(at - 2));
            d[3] = deviceSpecific;
            d[7] = (byte)(dbd ? 0 : 8);
        }
        else
        {
            d[0] = (byte)(at - 1);
            d[2] = deviceSpecific;
            d[3] = (byte)(dbd ? 0 : 8);
        }
        return at;
    }

    /// <summary>REPORT LUNS data for <paramref name="luns"/> (peripheral device addressing).</summary>
    public static int ReportLuns(ReadOnlySpan<byte> luns, Span<byte> d)
    {
        d[..8].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(luns.Length * 8));
        for (int i = 0; i < luns.Length; i++)
        {
            var e = d.Slice(8 + i * 8, 8);
            e.Clear();
            e[1] = luns[i];
        }
        return 8 + luns.Length * 8;
    }

    private static void Ascii(Span<byte> field, string text)
    {
        field.Fill((byte)' ');
        Encoding.ASCII.GetBytes(text.AsSpan(0, Math.Min(text.Length, field.Length)), field);
    }
}
