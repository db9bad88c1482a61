namespace StorSharp.Iscsi.Pdu;

/// <summary>Asynchronous Message (RFC 7143 §11.9), target to initiator.</summary>
internal struct AsyncMessagePdu
{
    public ulong Lun;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;
    public AsyncEventCode AsyncEvent;
    public byte AsyncVCode;
    public ushort Parameter1;
    public ushort Parameter2;
    public ushort Parameter3;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.AsyncMessage);
        bhs[1] = 0x80;
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, Bhs.ReservedTag);
        Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
        bhs[36] = (byte)AsyncEvent;
        bhs[37] = AsyncVCode;
        Bhs.U16(bhs, 38, Parameter1);
        Bhs.U16(bhs, 40, Parameter2);
        Bhs.U16(bhs, 42, Parameter3);
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out AsyncMessagePdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.AsyncMessage) return false;
        pdu.Lun = Bhs.Lun(bhs);
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        pdu.AsyncEvent = (AsyncEventCode)bhs[36];
        pdu.AsyncVCode = bhs[37];
        pdu.Parameter1 = Bhs.U16(bhs, 38);
        pdu.Parameter2 = Bhs.U16(bhs, 40);
        pdu.Parameter3 = Bhs.U16(bhs, 42);
        return true;
    }
}
