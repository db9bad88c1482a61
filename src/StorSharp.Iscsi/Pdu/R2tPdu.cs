namespace StorSharp.Iscsi.Pdu;

/// <summary>Ready To Transfer (RFC 7143 §11.8), target to initiator.</summary>
internal struct R2tPdu
{
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint TargetTransferTag;
    public uint StatSN;
    public uint ExpCmdSN;
    public uint MaxCmdSN;
    public uint R2TSN;
    public uint BufferOffset;
    public uint DesiredDataTransferLength;

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.ReadyToTransfer);
        bhs[1] = 0x80;
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, TargetTransferTag);
        Bhs.U32(bhs, 24, StatSN);
        Bhs.U32(bhs, 28, ExpCmdSN);
        Bhs.U32(bhs, 32, MaxCmdSN);
        Bhs.U32(bhs, 36, R2TSN);
        Bhs.U32(bhs, 40, BufferOffset);
        Bhs.U32(bhs, 44, DesiredDataTransferLength);
    }

    public static bool TryRead(ReadOnlySpan<byte> bhs, out R2tPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.ReadyToTransfer) return false;
        pdu.Lun = Bhs.Lun(bhs);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.TargetTransferTag = Bhs.U32(bhs, 20);
        pdu.StatSN = Bhs.U32(bhs, 24);
        pdu.ExpCmdSN = Bhs.U32(bhs, 28);
        pdu.MaxCmdSN = Bhs.U32(bhs, 32);
        pdu.R2TSN = Bhs.U32(bhs, 36);
        pdu.BufferOffset = Bhs.U32(bhs, 40);
        pdu.DesiredDataTransferLength = Bhs.U32(bhs, 44);
        return true;
    }
}
