using System.Buffers.Binary;
using StorSharp.Port;
using StorSharp.Scsi;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Optical;

/// <summary>
/// MODE SENSE(10) (SPC-4 §6.12) and MODE SELECT(10) (SPC-4 §6.10) as MMC-6 §7.2 has them: an
/// 8-byte header with no block descriptors, pages 01h and 2Ah (<see cref="MmcModePages"/>) and the
/// SCSI disk's control page 0Ah (SPC-4 §7.5.8, shared: D_SENSE switches this drive to descriptor sense).
/// MODE SENSE(6) is not an MMC command but SCSI hosts (QEMU's iSCSI driver) use it to learn of write
/// protection, so it answers the same pages with the 4-byte header. The device-specific parameter
/// (reserved in MMC) carries SBC's WP bit: the disc is read-only.
/// </summary>
internal static class MmcModeCommands
{
    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.ModeSense6, "MODE SENSE(6)", DataDirection.In, [ScsiOpcodes.ModeSense6, 0x08, 0xFF, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, ModeSense),
        Row(ScsiOpcodes.ModeSense10, "MODE SENSE(10)", DataDirection.In, [ScsiOpcodes.ModeSense10, 0x08, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, ModeSense),
        Row(ScsiOpcodes.ModeSelect10, "MODE SELECT(10)", DataDirection.Out, [ScsiOpcodes.ModeSelect10, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, ModeSelect),
    ];

    private const int HeaderLength = 8;

    private const byte ControlPageCode = 0x0A;

    private static ModePage Control => ModePages.Find(ControlPageCode)!;

    /// <summary>WP in the header's device-specific parameter.</summary>
    private const byte WriteProtect = 0x80;

    private static void ModeSense(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool six = cdb[0] == ScsiOpcodes.ModeSense6;
        int pc = cdb[2] >> 6;
        int page = cdb[2] & 0x3F;
        byte subpage = cdb[3];
        int allocation = six ? cdb[4] : BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        int header = six ? 4 : HeaderLength;
        // SPC-4 §6.12: saved values are not implemented.
        if (pc == 3) { task.CompleteCheckCondition(SenseCodes.SavingParametersNotSupported, SenseKeySpecific.Cdb(2, 7)); return; }
        if (subpage != 0 && !(page == 0x3F && subpage == 0xFF)) { task.CompleteInvalidField(3); return; }
        if (page is not (MmcModePages.ErrorRecovery or ControlPageCode or MmcModePages.Capabilities or 0x3F)) { task.CompleteInvalidField(2, 5); return; }
        var unit = task.Optical();
        Span<byte> d = stackalloc byte[HeaderLength + 12 + 12 + MmcModePages.CapabilitiesLength];
        d.Clear();
        int n = header; // DBD is accepted; MMC never returns block descriptors
        if (page is MmcModePages.ErrorRecovery or 0x3F)
        {
            var p = d.Slice(n, 12);
            switch (pc)
            {
                case 0: unit.ReadErrorRecovery(p); break;
                case 1: MmcModePages.ErrorRecoveryChangeable.CopyTo(p); p[0] = MmcModePages.ErrorRecovery; p[1] = 0x0A; break;
                default: MmcModePages.ErrorRecoveryDefault.CopyTo(p); break;
            }
            n += 12;
        }
        if (page is ControlPageCode or 0x3F)
            n += ModePages.WritePage(Control, pc, task.Unit.Mode, ModeParameters.Defaults(task.Unit.Miniport.Options.DescriptorSense), d[n..]);
        if (page is MmcModePages.Capabilities or 0x3F)
        {
            var p = d.Slice(n, MmcModePages.CapabilitiesLength);
            MmcModePages.WriteCapabilities(p, task.Unit.IsRemovalPrevented);
            if (pc == 1) p[2..].Clear(); // nothing in page 2Ah is changeable
            n += MmcModePages.CapabilitiesLength;
        }
        // MODE DATA LENGTH, medium type 0, device-specific parameter, block descriptor length 0.
        if (six) { d[0] = (byte)(n - 1); d[2] = WriteProtect; }
        else { BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)(n - 2)); d[3] = WriteProtect; }
        task.CompleteDataIn(d[..n], allocation);
    }

    private static void ModeSelect(ScsiTask task)
    {
        var cdb = task.Cdb;
        // SP = 1: saving is not implemented. PF = 0 (vendor-specific pages) is accepted as the same pages.
        if ((cdb[1] & 0x01) != 0) { task.CompleteInvalidField(1, 0); return; }
        int length = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        if (length == 0) { task.CompleteGood(); return; }
        Span<byte> list = stackalloc byte[Math.Min(length, 512)];
        if (length > 512 || length < HeaderLength || task.ReadDataOut(list) < length)
        {
            task.CompleteCheckCondition(SenseCodes.ParameterListLengthError);
            return;
        }
        if (BinaryPrimitives.ReadUInt16BigEndian(list[6..]) != 0) { Invalid(task, 6); return; } // no block descriptors
        var unit = task.Optical();
        Span<byte> errorRecovery = stackalloc byte[12];
        unit.ReadErrorRecovery(errorRecovery);
        Span<byte> capabilities = stackalloc byte[MmcModePages.CapabilitiesLength];
        MmcModePages.WriteCapabilities(capabilities, task.Unit.IsRemovalPrevented);
        Span<byte> control = stackalloc byte[12];
        ModePages.WritePage(Control, 0, task.Unit.Mode, task.Unit.Mode, control);
        var proposed = ModeParameters.Defaults(false);
        proposed.CopyFrom(task.Unit.Mode);
        Span<byte> before = stackalloc byte[12];
        errorRecovery.CopyTo(before);
        int o = HeaderLength;
        while (o < length)
        {
            if (o + 2 > length) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
            int code = list[o] & 0x3F;
            int pageLength = list[o + 1] + 2;
            if (o + pageLength > length) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
            if ((list[o] & 0xC0) != 0) { Invalid(task, o, 7); return; } // PS and SPF are 0 in a MODE SELECT list
            var page = list.Slice(o, pageLength);
            scoped Span<byte> current;
            scoped ReadOnlySpan<byte> changeable;
            if (code == MmcModePages.ErrorRecovery) { current = errorRecovery; changeable = MmcModePages.ErrorRecoveryChangeable; }
            else if (code == MmcModePages.Capabilities) { current = capabilities; changeable = default; }
            else if (code == ControlPageCode) { current = control; changeable = Control.ChangeableMask; }
            else { Invalid(task, o, 5); return; }
            if (pageLength != current.Length) { Invalid(task, o + 1); return; }
            // SPC-4 §6.10: a bit that is not changeable must be sent with its current value.
            for (int i = 2; i < pageLength; i++)
            {
                int mask = i < changeable.Length ? changeable[i] : 0;
                int bad = (page[i] ^ current[i]) & ~mask;
                if (bad != 0) { Invalid(task, o + i, System.Numerics.BitOperations.Log2((uint)bad)); return; }
            }
            page[2..].CopyTo(current[2..]);
            if (code == ControlPageCode) Control.Apply(proposed, page);
            o += pageLength;
        }
        bool changed = !before.SequenceEqual(errorRecovery) || proposed.DescriptorSense != task.Unit.Mode.DescriptorSense ||
                       proposed.SoftwareWriteProtect != task.Unit.Mode.SoftwareWriteProtect;
        unit.WriteErrorRecovery(errorRecovery);
        task.Unit.Mode.CopyFrom(proposed);
        // SPC-4 §6.10: the other I_T nexuses learn of the change.
        if (changed) task.Unit.Nexuses.AddToAll(SenseCodes.ModeParametersChanged, task.Nexus);
        task.CompleteGood();
    }

    private static void Invalid(ScsiTask task, int byteIndex, int bit = -1) =>
        task.CompleteCheckCondition(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(byteIndex, bit));
}
