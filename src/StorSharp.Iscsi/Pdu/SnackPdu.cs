namespace StorSharp.Iscsi.Pdu;

/// <summary>SNACK Request (RFC 7143 §11.16). This target runs ErrorRecoveryLevel 0, so every SNACK is rejected (§11.17.1: SNACK Reject).</summary>
internal struct SnackPdu
{
    public byte Type;
    public ulong Lun;
    public uint InitiatorTaskTag;
    public uint TargetTransferTag;
    public uint ExpStatSN;
    public uint BegRun;
    public uint RunLength;

    public static bool TryRead(ReadOnlySpan<byte> bhs, out SnackPdu pdu)
    {
        pdu = default;
        if (bhs.Length < Bhs.Size || Bhs.Opcode(bhs) != IscsiOpcode.Snack) return false;
        pdu.Type = (byte)(bhs[1] & 0x0F);
        pdu.Lun = Bhs.Lun(bhs);
        pdu.InitiatorTaskTag = Bhs.U32(bhs, 16);
        pdu.TargetTransferTag = Bhs.U32(bhs, 20);
        pdu.ExpStatSN = Bhs.U32(bhs, 28);
        pdu.BegRun = Bhs.U32(bhs, 40);
        pdu.RunLength = Bhs.U32(bhs, 44);
        return true;
    }

    public readonly void WriteTo(Span<byte> bhs)
    {
        bhs[..Bhs.Size].Clear();
        Bhs.SetOpcode(bhs, IscsiOpcode.Snack);
        bhs[1] = (byte)(0x80 | (Type & 0x0F));
        Bhs.U64(bhs, 8, Lun);
        Bhs.U32(bhs, 16, InitiatorTaskTag);
        Bhs.U32(bhs, 20, TargetTransferTag);
        Bhs.U32(bhs, 28, ExpStatSN);
        Bhs.U32(bhs, 40, BegRun);
        Bhs.U32(bhs, 44, RunLength);
    }
}
