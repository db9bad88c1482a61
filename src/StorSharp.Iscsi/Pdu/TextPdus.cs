namespace StorSharp.Iscsi.Pdu;

/// <summary>Text Request (RFC 7143 §11.10).</summary>
internal struct TextRequestPdu
{
    public bool Immediate;
    public bool Final;
    public bool Continue;
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint TargetTransferTag;
    public uint CmdSN;
    public uint ExpStatSN;

    public static bool TryRead(ReadOnlySpan<byte> bhs, out TextRequestPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.TextRequest) return false;
        pdu.Immediate = Bhs.Immediate(bhs);
        pdu.Final = (bhs[1] & 0x80) != 0;
        pdu.Continue = (bhs[1] & 0x40) != 0;
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
        Bhs.SetOpcode(bhs, IscsiOpcode.TextRequest, Immediate);
        bhs[1] = (byte)((Final ? 0x80 : 0) | (Continue ? 0x40 : 0));
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, TargetTransferTag);
        Bhs.U32(bhs, 24, CmdSN);
        Bhs.U32(bhs, 28, ExpStatSN);
    }
}

/// <summary>Text Response (RFC 7143 §11.11).</summary>
internal struct TextResponsePdu
{
    public bool Final;
    public bool Continue;
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint TargetTransferTag;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.TextResponse);
        bhs[1] = (byte)((Final ? 0x80 : 0) | (Continue ? 0x40 : 0));
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, TargetTransferTag);
        Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out TextResponsePdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.TextResponse) return false;
        pdu.Final = (bhs[1] & 0x80) != 0;
        pdu.Continue = (bhs[1] & 0x40) != 0;
        pdu.Lun = Bhs.Lun(bhs);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.TargetTransferTag = Bhs.U32(bhs, 20);
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        return true;
    }
}
