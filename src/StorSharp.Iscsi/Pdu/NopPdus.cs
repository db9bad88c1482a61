namespace StorSharp.Iscsi.Pdu;

/// <summary>NOP-Out (RFC 7143 §11.18), initiator to target: a ping, or the answer to a NOP-In.</summary>
internal struct NopOutPdu
{
    public bool Immediate;
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint TargetTransferTag;
    public uint CmdSN;
    public uint ExpStatSN;

    public static bool TryRead(ReadOnlySpan<byte> bhs, out NopOutPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.NopOut) return false;
        pdu.Immediate = Bhs.Immediate(bhs);
        pdu.Lun = Bhs.Lun(bhs);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.TargetTransferTag = Bhs.U32(bhs, 20);
        pdu.CmdSN = Bhs.U32(bhs, 24);
        pdu.ExpStatSN = Bhs.U32(bhs, 28);
        return true;
    }

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.NopOut, Immediate);
        bhs[1] = 0x80;
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, TargetTransferTag);
        Bhs.U32(bhs, 24, CmdSN);
        Bhs.U32(bhs, 28, ExpStatSN);
    }
}

/// <summary>NOP-In (RFC 7143 §11.19), target to initiator: the answer to a ping, or the target's own ping.</summary>
internal struct NopInPdu
{
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint TargetTransferTag;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.NopIn);
        bhs[1] = 0x80;
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, TargetTransferTag);
        Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out NopInPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.NopIn) return false;
        pdu.Lun = Bhs.Lun(bhs);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.TargetTransferTag = Bhs.U32(bhs, 20);
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        return true;
    }
}
