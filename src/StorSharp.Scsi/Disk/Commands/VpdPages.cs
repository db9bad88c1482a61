using System.Buffers.Binary;
using System.Text;

namespace StorSharp.Scsi;

/// <summary>Writes one VPD page after its 4-byte header into a buffer of <see cref="VpdPages.MaxLength"/> bytes and returns the page's total length.</summary>
internal delegate int VpdPageBuilder(ScsiTask task, Span<byte> page);

/// <summary>
/// The vital product data pages (SPC-4 §7.8, SBC-4 §6.6), keyed by page code. The Supported VPD
/// Pages page is generated from this list, so the two cannot disagree.
/// </summary>
internal static class VpdPages
{
    /// <summary>The largest page built.</summary>
    public const int MaxLength = 512;

    private static readonly (byte Code, VpdPageBuilder Build)[] s_pages =
    [
        (0x00, SupportedPages),
        (0x80, UnitSerialNumber),
        (0x83, DeviceIdentification),
        (0xB0, BlockLimits),
        (0xB1, BlockDeviceCharacteristics),
        (0xB2, LogicalBlockProvisioning),
    ];

    /// <summary>The largest UNMAP / WRITE SAME a single command may cover, in blocks (VPD B0h).</summary>
    public const uint MaxUnmapBlocks = 0x0010_0000;

    /// <summary>
    /// The most blocks one WRITE SAME may cover (VPD B0h MAXIMUM WRITE SAME LENGTH): 65535, as LIO
    /// reports. libiscsi's WriteSame16.Unmap first writes 65536 blocks in one WRITE(16) when the
    /// limit allows that many, a transfer far beyond the maximum transfer length.
    /// </summary>
    public const uint MaxWriteSameBlocks = 0xFFFF;

    /// <summary>The most block descriptors one UNMAP parameter list may carry (VPD B0h).</summary>
    public const uint MaxUnmapDescriptors = 256;

    /// <summary>The most blocks one COMPARE AND WRITE may cover (VPD B0h).</summary>
    public const byte MaxCompareAndWriteBlocks = 64;

    /// <summary>The builder of a page, or null when the LU does not have it.</summary>
    public static VpdPageBuilder? Find(byte code, DiskUnit unit)
    {
        if (!unit.Present) return code == 0x00 ? AbsentSupportedPages : null;
        if (unit.Miniport.Model.VpdPageCodes is { } allowed && Array.IndexOf(allowed, code) < 0) return null;
        foreach (var (c, build) in s_pages) if (c == code) return build;
        return null;
    }

    /// <summary>Page 00h (SPC-4 §7.8.16): the page codes, ascending.</summary>
    private static int SupportedPages(ScsiTask task, Span<byte> page)
    {
        int n = 4;
        var allowed = task.Unit.Miniport.Model.VpdPageCodes;
        foreach (var (code, _) in s_pages) if (allowed is null || Array.IndexOf(allowed, code) >= 0) page[n++] = code;
        return n;
    }

    private static int AbsentSupportedPages(ScsiTask task, Span<byte> page)
    {
        page[4] = 0x00;
        return 5;
    }

    /// <summary>Page 80h (SPC-4 §7.8.18): the serial number, ASCII.</summary>
    private static int UnitSerialNumber(ScsiTask task, Span<byte> page)
    {
        string serial = task.Unit.SerialNumber;
        int n = Math.Min(serial.Length, 252);
        InquiryCommand.Ascii(page.Slice(4, n), serial);
        return 4 + n;
    }

    /// <summary>
    /// Page 83h (SPC-4 §7.8.6): the LU's NAA and T10 vendor identifiers (the same on every path, so
    /// multipath software sees one LU), then the target port the request came through: its relative
    /// port identifier and its SCSI name.
    /// </summary>
    private static int DeviceIdentification(ScsiTask task, Span<byte> page)
    {
        var unit = task.Unit;
        int n = 4;

        // NAA designator: code set 1 (binary), association 0 (LU), type 3 (NAA).
        var naa = unit.NaaIdentifier;
        n += Designator(page[n..], codeSet: 1, association: 0, type: 3, naa);

        // T10 vendor ID designator: code set 2 (ASCII), type 1: vendor (8 bytes) + serial number.
        Span<byte> t10 = stackalloc byte[8 + 64];
        InquiryCommand.Ascii(t10[..8], unit.Definition!.VendorId);
        int serialLength = InquiryCommand.AsciiRaw(t10[8..], unit.SerialNumber);
        n += Designator(page[n..], codeSet: 2, association: 0, type: 1, t10[..(8 + serialLength)]);

        // Relative target port designator: association 1 (target port), type 4.
        var nexus = task.Srb.Nexus;
        Span<byte> relative = stackalloc byte[4];
        relative.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(relative[2..], nexus.RelativeTargetPortId);
        n += Designator(page[n..], codeSet: 1, association: 1, type: 4, relative);

        // SCSI name string designator of the target port: code set 3 (UTF-8), type 8,
        // null-terminated and padded to a multiple of 4 (SPC-4 §7.8.6.11).
        var name = nexus.TargetPortName;
        Span<byte> utf8 = stackalloc byte[1024];
        int length = Math.Min(Encoding.UTF8.GetBytes(name.AsSpan(0, Math.Min(name.Length, 256)), utf8), 251);
        int padded = (length + 1 + 3) & ~3;
        utf8[length..padded].Clear();
        n += Designator(page[n..], codeSet: 3, association: 1, type: 8, utf8[..padded]);
        return n;
    }

    /// <summary>Page B0h (SBC-4 §6.6.4): transfer, unmap and write-same limits.</summary>
    private static int BlockLimits(ScsiTask task, Span<byte> page)
    {
        var unit = task.Unit;
        var g = task.Device.Geometry;
        page[4] = 0x01; // WSNZ: WRITE SAME with zero blocks is refused
        page[5] = MaxCompareAndWriteBlocks;
        BinaryPrimitives.WriteUInt16BigEndian(page[6..], (ushort)(1 << (g.PhysicalBlockExponent & 0x0F)));
        uint maxTransfer = (uint)(unit.Miniport.Options.MaximumTransferLength / g.LogicalBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(page[8..], maxTransfer);
        BinaryPrimitives.WriteUInt32BigEndian(page[12..], (uint)Math.Max(g.OptimalTransferBlocks, 0));
        BinaryPrimitives.WriteUInt32BigEndian(page[16..], maxTransfer); // MAXIMUM PREFETCH LENGTH
        if (unit.ThinProvisioned)
        {
            BinaryPrimitives.WriteUInt32BigEndian(page[20..], MaxUnmapBlocks);
            BinaryPrimitives.WriteUInt32BigEndian(page[24..], MaxUnmapDescriptors);
            BinaryPrimitives.WriteUInt32BigEndian(page[28..], 1); // OPTIMAL UNMAP GRANULARITY
        }
        BinaryPrimitives.WriteUInt64BigEndian(page[36..], MaxWriteSameBlocks); // MAXIMUM WRITE SAME LENGTH
        // WRITE ATOMIC(16) (SBC-4 §6.6.4): MAXIMUM ATOMIC TRANSFER LENGTH; ATOMIC ALIGNMENT 0 and ATOMIC
        // TRANSFER LENGTH GRANULARITY 0 (no requirement: atomicity comes from the range lock, not from
        // the medium's geometry); MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY and MAXIMUM
        // ATOMIC BOUNDARY SIZE the same (a write is atomic as a whole, so any boundary is honoured).
        uint maxAtomic = AtomicWriteCommands.MaxAtomicBlocks(unit);
        BinaryPrimitives.WriteUInt32BigEndian(page[44..], maxAtomic);
        BinaryPrimitives.WriteUInt32BigEndian(page[56..], maxAtomic);
        BinaryPrimitives.WriteUInt32BigEndian(page[60..], maxAtomic);
        return 64;
    }

    /// <summary>Page B1h (SBC-4 §6.6.2): MEDIUM ROTATION RATE 1 = non-rotating, from the device's NonRotational capability.</summary>
    private static int BlockDeviceCharacteristics(ScsiTask task, Span<byte> page)
    {
        if ((task.Device.Capabilities & Block.BlockDeviceCapabilities.NonRotational) != 0) page[5] = 0x01;
        // WABEREQ / WACEREQ 01b (byte 7 bits 7-6 / 5-4): after SANITIZE BLOCK ERASE or CRYPTOGRAPHIC
        // ERASE a read completes GOOD (the blocks read as zeros); 00b where those service actions
        // are not supported (SBC-4 §6.6.2).
        if (SanitizeCommands.CanErase(task.Unit)) page[7] = 0x50;
        return 64;
    }

    /// <summary>Page B2h (SBC-4 §6.6.6): UNMAP and WRITE SAME with UNMAP on thin LUs, LBPRZ, provisioning type.</summary>
    private static int LogicalBlockProvisioning(ScsiTask task, Span<byte> page)
    {
        var unit = task.Unit;
        if (unit.ThinProvisioned)
        {
            page[5] = 0xE0; // LBPU, LBPWS, LBPWS10
            if ((task.Device.Capabilities & Block.BlockDeviceCapabilities.UnmapReadsZeroes) != 0) page[5] |= 0x04; // LBPRZ = 001b
            page[6] = 0x02; // PROVISIONING TYPE: thin
        }
        return 8;
    }

    private static int Designator(Span<byte> d, int codeSet, int association, int type, ReadOnlySpan<byte> value)
    {
        d[0] = (byte)codeSet;
        d[1] = (byte)((association << 4) | type);
        d[2] = 0;
        d[3] = (byte)value.Length;
        value.CopyTo(d[4..]);
        return 4 + value.Length;
    }
}
