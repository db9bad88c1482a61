using System.Buffers.Binary;
using StorSharp.Port;

namespace StorSharp.Class;

/// <summary>
/// Builds the CDBs a disk class driver sends (what disk.sys does with a block request). Each
/// builder writes into a caller's span, or straight into an SRB through <see cref="Srb.InitCdb"/>,
/// so building a request allocates nothing.
/// </summary>
/// <remarks>
/// Layouts are SBC-4 / SPC-5's; multi-byte fields are big-endian. The SRB overloads also set
/// <see cref="Srb.Function"/> to EXECUTE SCSI and the data direction the command implies; the
/// caller attaches the data buffer.
/// </remarks>
public static class ScsiCdb
{
    /// <summary>Length of the 16-byte CDBs.</summary>
    public const int Length16 = 16;

    /// <summary>Bytes of READ CAPACITY(16) parameter data the class layer asks for.</summary>
    public const int ReadCapacity16DataLength = 32;

    // Byte 1 bits of READ/WRITE(16) (SBC-4 §5.16, §5.43).
    private const byte FuaBit = 0x08;
    // Byte 1 bits of WRITE SAME(16) (SBC-4 §5.50).
    private const byte UnmapBit = 0x08;
    private const byte NdobBit = 0x01;
    // IMMED bit of SYNCHRONIZE CACHE(16) and PRE-FETCH(16).
    private const byte ImmedBit = 0x02;

    /// <summary>READ(16): read <paramref name="blockCount"/> blocks from <paramref name="lba"/> (SBC-4 §5.16).</summary>
    public static void Read16(Span<byte> cdb, long lba, uint blockCount, bool forceUnitAccess = false)
        => Rw16(cdb, (byte)ScsiOpcode.Read16, lba, blockCount, forceUnitAccess ? FuaBit : (byte)0);

    /// <summary>READ(16) into an SRB; sets direction In.</summary>
    public static void Read16(Srb srb, long lba, uint blockCount, bool forceUnitAccess = false)
    {
        Read16(Init(srb, Length16, DataDirection.In), lba, blockCount, forceUnitAccess);
    }

    /// <summary>WRITE(16): write <paramref name="blockCount"/> blocks at <paramref name="lba"/>; FUA asks for a durable write (SBC-4 §5.43).</summary>
    public static void Write16(Span<byte> cdb, long lba, uint blockCount, bool forceUnitAccess = false)
        => Rw16(cdb, (byte)ScsiOpcode.Write16, lba, blockCount, forceUnitAccess ? FuaBit : (byte)0);

    /// <summary>WRITE(16) into an SRB; sets direction Out.</summary>
    public static void Write16(Srb srb, long lba, uint blockCount, bool forceUnitAccess = false)
    {
        Write16(Init(srb, Length16, DataDirection.Out), lba, blockCount, forceUnitAccess);
    }

    /// <summary>
    /// SYNCHRONIZE CACHE(16) (SBC-4 §5.29). A <paramref name="blockCount"/> of 0 means every block
    /// from <paramref name="lba"/> to the end of the medium, so (0, 0) flushes the whole LU.
    /// </summary>
    public static void SynchronizeCache16(Span<byte> cdb, long lba = 0, uint blockCount = 0, bool immediate = false)
        => Rw16(cdb, (byte)ScsiOpcode.SynchronizeCache16, lba, blockCount, immediate ? ImmedBit : (byte)0);

    /// <summary>SYNCHRONIZE CACHE(16) into an SRB; no data.</summary>
    public static void SynchronizeCache16(Srb srb, long lba = 0, uint blockCount = 0, bool immediate = false)
    {
        SynchronizeCache16(Init(srb, Length16, DataDirection.None), lba, blockCount, immediate);
    }

    /// <summary>
    /// WRITE SAME(16) (SBC-4 §5.50): write the one block of data-out to every block of the range.
    /// <paramref name="unmap"/> lets the device deallocate instead (when the block is zeros);
    /// <paramref name="noDataOutBuffer"/> (NDOB) means "zeros" with no data-out at all.
    /// </summary>
    public static void WriteSame16(Span<byte> cdb, long lba, uint blockCount, bool unmap = false, bool noDataOutBuffer = false)
        => Rw16(cdb, (byte)ScsiOpcode.WriteSame16, lba, blockCount,
            (byte)((unmap ? UnmapBit : 0) | (noDataOutBuffer ? NdobBit : 0)));

    /// <summary>WRITE SAME(16) into an SRB; direction Out, or None with NDOB.</summary>
    public static void WriteSame16(Srb srb, long lba, uint blockCount, bool unmap = false, bool noDataOutBuffer = false)
    {
        WriteSame16(Init(srb, Length16, noDataOutBuffer ? DataDirection.None : DataDirection.Out), lba, blockCount, unmap, noDataOutBuffer);
    }

    /// <summary>PRE-FETCH(16) (SBC-4 §5.10): bring the range into the device's cache.</summary>
    public static void PreFetch16(Span<byte> cdb, long lba, uint blockCount, bool immediate = false)
        => Rw16(cdb, (byte)ScsiOpcode.PreFetch16, lba, blockCount, immediate ? ImmedBit : (byte)0);

    /// <summary>PRE-FETCH(16) into an SRB; no data.</summary>
    public static void PreFetch16(Srb srb, long lba, uint blockCount, bool immediate = false)
    {
        PreFetch16(Init(srb, Length16, DataDirection.None), lba, blockCount, immediate);
    }

    /// <summary>
    /// UNMAP (SBC-4 §5.32), a 10-byte CDB; the parameter list of <paramref name="parameterListLength"/>
    /// bytes travels as data-out (see <see cref="UnmapParameterList"/>).
    /// </summary>
    public static void Unmap(Span<byte> cdb, ushort parameterListLength)
    {
        CheckLength(cdb, 10);
        cdb[..10].Clear();
        cdb[0] = (byte)ScsiOpcode.Unmap;
        BinaryPrimitives.WriteUInt16BigEndian(cdb[7..], parameterListLength);
    }

    /// <summary>UNMAP into an SRB; direction Out.</summary>
    public static void Unmap(Srb srb, ushort parameterListLength)
    {
        Unmap(Init(srb, 10, DataDirection.Out), parameterListLength);
    }

    /// <summary>GET LBA STATUS(16) (SBC-4 §5.6): describe provisioning from <paramref name="lba"/> on.</summary>
    public static void GetLbaStatus(Span<byte> cdb, long lba, uint allocationLength)
    {
        CheckLength(cdb, Length16);
        CheckLba(lba);
        cdb[..Length16].Clear();
        cdb[0] = (byte)ScsiOpcode.ServiceActionIn16;
        cdb[1] = (byte)ServiceActionIn16.GetLbaStatus;
        BinaryPrimitives.WriteInt64BigEndian(cdb[2..], lba);
        BinaryPrimitives.WriteUInt32BigEndian(cdb[10..], allocationLength);
    }

    /// <summary>GET LBA STATUS(16) into an SRB; direction In.</summary>
    public static void GetLbaStatus(Srb srb, long lba, uint allocationLength)
    {
        GetLbaStatus(Init(srb, Length16, DataDirection.In), lba, allocationLength);
    }

    /// <summary>READ CAPACITY(16) (SBC-4 §5.21); see <see cref="ReadCapacity16Data"/> for the answer.</summary>
    public static void ReadCapacity16(Span<byte> cdb, uint allocationLength = ReadCapacity16DataLength)
    {
        CheckLength(cdb, Length16);
        cdb[..Length16].Clear();
        cdb[0] = (byte)ScsiOpcode.ServiceActionIn16;
        cdb[1] = (byte)ServiceActionIn16.ReadCapacity16;
        BinaryPrimitives.WriteUInt32BigEndian(cdb[10..], allocationLength);
    }

    /// <summary>READ CAPACITY(16) into an SRB; direction In.</summary>
    public static void ReadCapacity16(Srb srb, uint allocationLength = ReadCapacity16DataLength)
    {
        ReadCapacity16(Init(srb, Length16, DataDirection.In), allocationLength);
    }

    /// <summary>TEST UNIT READY (SPC-5 §6.47), a 6-byte CDB.</summary>
    public static void TestUnitReady(Span<byte> cdb)
    {
        CheckLength(cdb, 6);
        cdb[..6].Clear();
        cdb[0] = (byte)ScsiOpcode.TestUnitReady;
    }

    /// <summary>TEST UNIT READY into an SRB; no data.</summary>
    public static void TestUnitReady(Srb srb) => TestUnitReady(Init(srb, 6, DataDirection.None));

    /// <summary>
    /// INQUIRY (SPC-5 §6.7), a 6-byte CDB: standard data when <paramref name="vpdPage"/> is null,
    /// else the vital product data page (EVPD = 1).
    /// </summary>
    public static void Inquiry(Span<byte> cdb, ushort allocationLength, VpdPage? vpdPage = null)
    {
        CheckLength(cdb, 6);
        cdb[..6].Clear();
        cdb[0] = (byte)ScsiOpcode.Inquiry;
        if (vpdPage is { } page)
        {
            cdb[1] = 0x01; // EVPD
            cdb[2] = (byte)page;
        }
        BinaryPrimitives.WriteUInt16BigEndian(cdb[3..], allocationLength);
    }

    /// <summary>INQUIRY into an SRB; direction In.</summary>
    public static void Inquiry(Srb srb, ushort allocationLength, VpdPage? vpdPage = null)
    {
        Inquiry(Init(srb, 6, DataDirection.In), allocationLength, vpdPage);
    }

    /// <summary>
    /// MODE SENSE(6) (SPC-5 §6.14) of <paramref name="pageCode"/> (0x3F: all pages), current
    /// values, block descriptors disabled. The header's device-specific byte carries WP and DPOFUA.
    /// </summary>
    public static void ModeSense6(Span<byte> cdb, byte pageCode, byte allocationLength)
    {
        CheckLength(cdb, 6);
        cdb[..6].Clear();
        cdb[0] = (byte)ScsiOpcode.ModeSense6;
        cdb[1] = 0x08; // DBD
        cdb[2] = (byte)(pageCode & 0x3F); // PC = 00b (current values)
        cdb[4] = allocationLength;
    }

    /// <summary>MODE SENSE(6) into an SRB; direction In.</summary>
    public static void ModeSense6(Srb srb, byte pageCode, byte allocationLength)
    {
        ModeSense6(Init(srb, 6, DataDirection.In), pageCode, allocationLength);
    }

    private static Span<byte> Init(Srb srb, int length, DataDirection direction)
    {
        ArgumentNullException.ThrowIfNull(srb);
        srb.Function = SrbFunction.ExecuteScsi;
        srb.Direction = direction;
        return srb.InitCdb(length);
    }

    private static void Rw16(Span<byte> cdb, byte opcode, long lba, uint blockCount, byte byte1)
    {
        CheckLength(cdb, Length16);
        CheckLba(lba);
        cdb[0] = opcode;
        cdb[1] = byte1;
        BinaryPrimitives.WriteInt64BigEndian(cdb[2..], lba);
        BinaryPrimitives.WriteUInt32BigEndian(cdb[10..], blockCount);
        cdb[14] = 0; // group number
        cdb[15] = 0; // control
    }

    private static void CheckLength(Span<byte> cdb, int length)
    {
        if (cdb.Length < length)
            throw new ArgumentException($"The CDB needs {length} bytes; the span has {cdb.Length}.", nameof(cdb));
    }

    private static void CheckLba(long lba) => ArgumentOutOfRangeException.ThrowIfNegative(lba);
}
