namespace StorSharp.Iscsi.Pdu;

/// <summary>SCSI Data-Out (RFC 7143 §11.7), initiator to target.</summary>
internal struct DataOutPdu
{
    public bool Final;
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint TargetTransferTag;
    public uint ExpStatSN;
    public uint DataSN;
    public uint BufferOffset;

    public static bool TryRead(ReadOnlySpan<byte> bhs, out DataOutPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.ScsiDataOut) return false;
        pdu.Final = Bhs.Final(bhs);
        pdu.Lun = Bhs.Lun(bhs);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.TargetTransferTag = Bhs.U32(bhs, 20);
        pdu.ExpStatSN = Bhs.U32(bhs, 28);
        pdu.DataSN = Bhs.U32(bhs, 36);
        pdu.BufferOffset = Bhs.U32(bhs, 40);
        return true;
    }

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.ScsiDataOut);
        bhs[1] = (byte)(Final ? 0x80 : 0);
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, TargetTransferTag);
        Bhs.U32(bhs, 28, ExpStatSN);
        Bhs.U32(bhs, 36, DataSN);
        Bhs.U32(bhs, 40, BufferOffset);
    }
}

/// <summary>SCSI Data-In (RFC 7143 §11.8), target to initiator. With S set it also carries the status (§11.8.1).</summary>
internal struct DataInPdu
{
    public bool Final;
    public bool Acknowledge;
    public bool Overflow;
    public bool Underflow;
    public bool StatusPresent;
    public byte Status;
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint TargetTransferTag;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;
    public uint DataSN;
    public uint BufferOffset;
    public uint ResidualCount;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.ScsiDataIn);
        bhs[1] = (byte)((Final ? 0x80 : 0) | (Acknowledge ? 0x40 : 0) | (Overflow ? 0x04 : 0) | (Underflow ? 0x02 : 0) | (StatusPresent ? 0x01 : 0));
        if (StatusPresent) bhs[3] = Status;
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, TargetTransferTag);
        if (StatusPresent) Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
        Bhs.U32(bhs, 36, DataSN);
        Bhs.U32(bhs, 40, BufferOffset);
        Bhs.U32(bhs, 44, ResidualCount);
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out DataInPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.ScsiDataIn) return false;
        pdu.Final = (bhs[1] & 0x80) != 0;
        pdu.Acknowledge = (bhs[1] & 0x40) != 0;
        pdu.Overflow = (bhs[1] & 0x04) != 0;
        pdu.Underflow = (bhs[1] & 0x02) != 0;
        pdu.StatusPresent = (bhs[1] & 0x01) != 0;
        pdu.Status = bhs[3];
        pdu.Lun = Bhs.Lun(bhs);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.TargetTransferTag = Bhs.U32(bhs, 20);
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        pdu.DataSN = Bhs.U32(bhs, 36);
        pdu.BufferOffset = Bhs.U32(bhs, 40);
        pdu.ResidualCount = Bhs.U32(bhs, 44);
        return true;
    }
}
