namespace StorSharp.Iscsi.Pdu;

/// <summary>Reject (RFC 7143 §11.17); the data segment is the rejected PDU's header.</summary>
internal struct RejectPdu
{
    public RejectReason Reason;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;
    public uint DataSNOrR2TSN;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.Reject);
        bhs[1] = 0x80;
        bhs[2] = (byte)Reason;
        Bhs.U32(bhs, 16, Bhs.ReservedTag);
        Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
        Bhs.U32(bhs, 36, DataSNOrR2TSN);
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out RejectPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.Reject) return false;
        pdu.Reason = (RejectReason)bhs[2];
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        pdu.DataSNOrR2TSN = Bhs.U32(bhs, 36);
        return true;
    }
}
