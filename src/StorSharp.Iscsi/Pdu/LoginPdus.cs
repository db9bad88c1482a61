namespace StorSharp.Iscsi.Pdu;

/// <summary>Login Request (RFC 7143 §11.12). Always immediate.</summary>
internal struct LoginRequestPdu
{
    public bool Transit;
    public bool Continue;
    public byte CurrentStage;
    public byte NextStage;
    public byte VersionMax;
    public byte VersionMin;
    public ulong Isid;
    public ushort Tsih;
    public uint InitiatorTaskTag;
    public ushort Cid;
    public uint CmdSN;
    public uint ExpStatSN;

    public static bool TryRead(ReadOnlySpan<byte> bhs, out LoginRequestPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.LoginRequest) return false;
        pdu.Transit = (bhs[1] & 0x80) != 0;
        pdu.Continue = (bhs[1] & 0x40) != 0;
        pdu.CurrentStage = (byte)((bhs[1] >> 2) & 3);
        pdu.NextStage = (byte)(bhs[1] & 3);
        pdu.VersionMax = bhs[2];
        pdu.VersionMin = bhs[3];
        pdu.Isid = Bhs.Isid(bhs);
        pdu.Tsih = Bhs.U16(bhs, 14);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.Cid = Bhs.U16(bhs, 20);
        pdu.CmdSN = Bhs.U32(bhs, 24);
        pdu.ExpStatSN = Bhs.U32(bhs, 28);
        return true;
    }

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.LoginRequest, immediate: true);
        bhs[1] = (byte)((Transit ? 0x80 : 0) | (Continue ? 0x40 : 0) | ((CurrentStage & 3) << 2) | (NextStage & 3));
        bhs[2] = VersionMax;
        bhs[3] = VersionMin;
        Bhs.Isid(bhs, Isid);
        Bhs.U16(bhs, 14, Tsih);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U16(bhs, 20, Cid);
        Bhs.U32(bhs, 24, CmdSN);
        Bhs.U32(bhs, 28, ExpStatSN);
    }
}

/// <summary>Login Response (RFC 7143 §11.13).</summary>
internal struct LoginResponsePdu
{
    public bool Transit;
    public bool Continue;
    public byte CurrentStage;
    public byte NextStage;
    public byte VersionMax;
    public byte VersionActive;
    public ulong Isid;
    public ushort Tsih;
    public uint InitiatorTaskTag;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;
    public LoginStatus Status;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.LoginResponse);
        bhs[1] = (byte)((Transit ? 0x80 : 0) | (Continue ? 0x40 : 0) | ((CurrentStage & 3) << 2) | (NextStage & 3));
        bhs[2] = VersionMax;
        bhs[3] = VersionActive;
        Bhs.Isid(bhs, Isid);
        Bhs.U16(bhs, 14, Tsih);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
        bhs[36] = (byte)((ushort)Status >> 8);
        bhs[37] = (byte)Status;
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out LoginResponsePdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.LoginResponse) return false;
        pdu.Transit = (bhs[1] & 0x80) != 0;
        pdu.Continue = (bhs[1] & 0x40) != 0;
        pdu.CurrentStage = (byte)((bhs[1] >> 2) & 3);
        pdu.NextStage = (byte)(bhs[1] & 3);
        pdu.VersionMax = bhs[2];
        pdu.VersionActive = bhs[3];
        pdu.Isid = Bhs.Isid(bhs);
        pdu.Tsih = Bhs.U16(bhs, 14);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        pdu.Status = (LoginStatus)((bhs[36] << 8) | bhs[37]);
        return true;
    }
}
