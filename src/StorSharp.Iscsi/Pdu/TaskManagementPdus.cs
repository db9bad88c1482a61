namespace StorSharp.Iscsi.Pdu;

/// <summary>Task Management Function Request (RFC 7143 §11.5).</summary>
internal struct TaskManagementRequestPdu
{
    public bool Immediate;
    public TaskManagementFunction Function;
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint ReferencedTaskTag;
    public uint CmdSN;
    public uint ExpStatSN;
    public uint RefCmdSN;
    public uint ExpDataSN;

    public static bool TryRead(ReadOnlySpan<byte> bhs, out TaskManagementRequestPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.TaskManagementRequest) return false;
        pdu.Immediate = Bhs.Immediate(bhs);
        pdu.Function = (TaskManagementFunction)(bhs[1] & 0x7F);
        pdu.Lun = Bhs.Lun(bhs);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.ReferencedTaskTag = Bhs.U32(bhs, 20);
        pdu.CmdSN = Bhs.U32(bhs, 24);
        pdu.ExpStatSN = Bhs.U32(bhs, 28);
        pdu.RefCmdSN = Bhs.U32(bhs, 32);
        pdu.ExpDataSN = Bhs.U32(bhs, 36);
        return true;
    }

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.TaskManagementRequest, Immediate);
        bhs[1] = (byte)(0x80 | ((byte)Function & 0x7F));
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, ReferencedTaskTag);
        Bhs.U32(bhs, 24, CmdSN);
        Bhs.U32(bhs, 28, ExpStatSN);
        Bhs.U32(bhs, 32, RefCmdSN);
        Bhs.U32(bhs, 36, ExpDataSN);
    }
}

/// <summary>Task Management Function Response (RFC 7143 §11.6).</summary>
internal struct TaskManagementResponsePdu
{
    public TaskManagementResponse Response;
    public uint InitiatorTaskTag;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.TaskManagementResponse);
        bhs[1] = 0x80;
        bhs[2] = (byte)Response;
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out TaskManagementResponsePdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.TaskManagementResponse) return false;
        pdu.Response = (TaskManagementResponse)bhs[2];
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        return true;
    }
}
