using System.Buffers;

namespace StorSharp.Iscsi.Pdu;

/// <summary>SCSI Command (RFC 7143 §11.3), initiator to target.</summary>
internal struct ScsiCommandPdu
{
    public bool Immediate;
    /// <summary>F: no unsolicited Data-Out follows.</summary>
    public bool Final;
    public bool Read;
    public bool Write;
    public TaskAttribute Attribute;
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint ExpectedDataTransferLength;
    public uint CmdSN;
    public uint ExpStatSN;
    /// <summary>The first 16 CDB bytes; longer CDBs continue in an Extended CDB AHS (§11.2.2.3).</summary>
    public CdbBuffer Cdb;

    public static bool TryRead(ReadOnlySpan<byte> bhs, out ScsiCommandPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.ScsiCommand) return false;
        pdu.Immediate = Bhs.Immediate(bhs);
        pdu.Final = (bhs[1] & 0x80) != 0;
        pdu.Read = (bhs[1] & 0x40) != 0;
        pdu.Write = (bhs[1] & 0x20) != 0;
        pdu.Attribute = (TaskAttribute)(bhs[1] & 0x07);
        pdu.Lun = Bhs.Lun(bhs);
        pdu.InitiatorTaskTag = Bhs.InitiatorTaskTag(bhs);
        pdu.ExpectedDataTransferLength = Bhs.U32(bhs, 20);
        pdu.CmdSN = Bhs.U32(bhs, 24);
        pdu.ExpStatSN = Bhs.U32(bhs, 28);
        bhs.Slice(32, 16).CopyTo(pdu.Cdb);
        return true;
    }

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.ScsiCommand, Immediate);
        bhs[1] = (byte)((Final ? 0x80 : 0) | (Read ? 0x40 : 0) | (Write ? 0x20 : 0) | ((byte)Attribute & 7));
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, ExpectedDataTransferLength);
        Bhs.U32(bhs, 24, CmdSN);
        Bhs.U32(bhs, 28, ExpStatSN);
        ReadOnlySpan<byte> cdb = Cdb;
        cdb.CopyTo(bhs[32..]);
    }

    /// <summary>
    /// Finds the Extended CDB AHS (type 1) and returns the CDB bytes beyond the first 16
    /// (§11.2.2.3: AHSLength counts the reserved byte and the CDB bytes).
    /// </summary>
    /// <returns>False when the AHS is malformed.</returns>
    public static bool TryGetExtendedCdb(in ReadOnlySequence<byte> ahs, Span<byte> extension, out int length)
    {
        length = 0;
        var reader = new SequenceReader<byte>(ahs);
        while (reader.Remaining >= 4)
        {
            reader.TryReadBigEndian(out short ahsLen);
            reader.TryRead(out byte type);
            int len = (ushort)ahsLen;
            int padded = ((3 + len + 3) & ~3) - 3; // AHSLength excludes the length/type bytes and the padding (§11.2.2.1)
            if (reader.Remaining < padded) return false;
            if ((type & 0x3F) == 1)
            {
                if (len < 1) return false;
                reader.Advance(1); // reserved
                int cdbBytes = len - 1;
                if (cdbBytes > extension.Length) return false;
                reader.TryCopyTo(extension[..cdbBytes]);
                length = cdbBytes;
                return true;
            }
            reader.Advance(padded);
        }
        return true;
    }
}

/// <summary>16 inline CDB bytes.</summary>
[System.Runtime.CompilerServices.InlineArray(16)]
internal struct CdbBuffer
{
    private byte _element0;
}

/// <summary>SCSI Response (RFC 7143 §11.4), target to initiator. The data segment carries SenseLength + sense data.</summary>
internal struct ScsiResponsePdu
{
    public bool BidiOverflow;
    public bool BidiUnderflow;
    public bool Overflow;
    public bool Underflow;
    public ScsiResponseCode Response;
    public byte Status;
    public uint InitiatorTaskTag;
    public uint SnackTag;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;
    public uint ExpDataSN;
    public uint BidiReadResidualCount;
    public uint ResidualCount;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.ScsiResponse);
        bhs[1] = (byte)(0x80 | (BidiOverflow ? 0x10 : 0) | (BidiUnderflow ? 0x08 : 0) | (Overflow ? 0x04 : 0) | (Underflow ? 0x02 : 0));
        bhs[2] = (byte)Response;
        bhs[3] = Status;
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, SnackTag);
        Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
        Bhs.U32(bhs, 36, ExpDataSN);
        Bhs.U32(bhs, 40, BidiReadResidualCount);
        Bhs.U32(bhs, 44, ResidualCount);
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out ScsiResponsePdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.ScsiResponse) return false;
        pdu.BidiOverflow = (bhs[1] & 0x10) != 0;
        pdu.BidiUnderflow = (bhs[1] & 0x08) != 0;
        pdu.Overflow = (bhs[1] & 0x04) != 0;
        pdu.Underflow = (bhs[1] & 0x02) != 0;
        pdu.Response = (ScsiResponseCode)bhs[2];
        pdu.Status = bhs[3];
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.SnackTag = Bhs.U32(bhs, 20);
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        pdu.ExpDataSN = Bhs.U32(bhs, 36);
        pdu.BidiReadResidualCount = Bhs.U32(bhs, 40);
        pdu.ResidualCount = Bhs.U32(bhs, 44);
        return true;
    }
}
