namespace StorSharp.Iscsi.Pdu;

/// <summary>Logout Request (RFC 7143 §11.14).</summary>
internal struct LogoutRequestPdu
{
    public bool Immediate;
    public LogoutReason Reason;
    public uint InitiatorTaskTag;
    public ushort Cid;
    public uint CmdSN;
    public uint ExpStatSN;

    public static bool TryRead(ReadOnlySpan<byte> bhs, out LogoutRequestPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.LogoutRequest) return false;
        pdu.Immediate = Bhs.Immediate(bhs);
        pdu.Reason = (LogoutReason)(bhs[1] & 0x7F);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.Cid = Bhs.U16(bhs, 20);
        pdu.CmdSN = Bhs.U32(bhs, 24);
        pdu.ExpStatSN = Bhs.U32(bhs, 28);
        return true;
    }

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.LogoutRequest, Immediate);
        bhs[1] = (byte)(0x80 | ((byte)Reason & 0x7F));
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U16(bhs, 20, Cid);
        Bhs.U32(bhs, 24, CmdSN);
        Bhs.U32(bhs, 28, ExpStatSN);
    }
}

/// <summary>Logout Response (RFC 7143 §11.15).</summary>
internal struct LogoutResponsePdu
{
    public LogoutResponseCode Response;
    public uint InitiatorTaskTag;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;
    public ushort Time2Wait;
    public ushort Time2Retain;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.LogoutResponse);
        bhs[1] = 0x80;
        bhs[2] = (byte)Response;
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
        Bhs.U16(bhs, 40, Time2Wait);
        Bhs.U16(bhs, 42, Time2Retain);
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out LogoutResponsePdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.LogoutResponse) return false;
        pdu.Response = (LogoutResponseCode)bhs[2];
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        pdu.Time2Wait = Bhs.U16(bhs, 40);
        pdu.Time2Retain = Bhs.U16(bhs, 42);
        return true;
    }
}
