using System.Buffers.Binary;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>MODE SENSE(6)/(10) (SPC-4 §6.11, §6.12) and MODE SELECT(6)/(10) (SPC-4 §6.9, §6.10) over <see cref="ModePages"/>.</summary>
internal static class ModeCommands
{
    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.ModeSense6, "MODE SENSE(6)", DataDirection.In, [ScsiOpcodes.ModeSense6, 0x08, 0xFF, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, ModeSense),
        Row(ScsiOpcodes.ModeSense10, "MODE SENSE(10)", DataDirection.In, [ScsiOpcodes.ModeSense10, 0x18, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, ModeSense),
        Row(ScsiOpcodes.ModeSelect6, "MODE SELECT(6)", DataDirection.Out, [ScsiOpcodes.ModeSelect6, 0x11, 0x00, 0x00, 0xFF, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, ModeSelect),
        Row(ScsiOpcodes.ModeSelect10, "MODE SELECT(10)", DataDirection.Out, [ScsiOpcodes.ModeSelect10, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, ModeSelect),
    ];

    private static void ModeSense(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool ten = cdb[0] == ScsiOpcodes.ModeSense10;
        bool dbd = (cdb[1] & 0x08) != 0;
        bool longLba = ten && (cdb[1] & 0x10) != 0;
        int pc = cdb[2] >> 6;
        byte pageCode = (byte)(cdb[2] & 0x3F);
        byte subpage = cdb[3];
        int allocation = ten ? BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]) : cdb[4];

        // SPC-4 §6.11: saved values are not implemented.
        if (pc == 3) { task.CompleteCheckCondition(SenseCodes.SavingParametersNotSupported, SenseKeySpecific.Cdb(2, 7)); return; }
        if (subpage != 0 && !(pageCode == 0x3F && subpage == 0xFF)) { task.CompleteInvalidField(3); return; }
        ModePage? single = null;
        if (pageCode != 0x3F && (single = ModePages.Find(pageCode)) is null) { task.CompleteInvalidField(2, 5); return; }

        var unit = task.Unit;
        var geometry = task.Device.Geometry;
        Span<byte> data = stackalloc byte[256];
        data.Clear();
        int header = ten ? 8 : 4;
        int n = header;
        if (!dbd)
        {
            if (longLba)
            {
                BinaryPrimitives.WriteUInt64BigEndian(data[n..], (ulong)geometry.BlockCount);
                BinaryPrimitives.WriteUInt32BigEndian(data[(n + 12)..], (uint)geometry.LogicalBlockSize);
                n += 16;
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(data[n..], geometry.BlockCount > uint.MaxValue ? uint.MaxValue : (uint)geometry.BlockCount);
                data[n + 5] = (byte)(geometry.LogicalBlockSize >> 16);
                data[n + 6] = (byte)(geometry.LogicalBlockSize >> 8);
                data[n + 7] = (byte)geometry.LogicalBlockSize;
                n += 8;
            }
        }
        int descriptors = n - header;
        var defaults = ModeParameters.Defaults(unit.Miniport.Options.DescriptorSense);
        if (single is not null) n += ModePages.WritePage(single, pc, unit.Mode, defaults, data[n..]);
        else foreach (var page in ModePages.All) n += ModePages.WritePage(page, pc, unit.Mode, defaults, data[n..]);

        // SBC-4 §6.5.1 device-specific parameter: WP (bit 7), DPOFUA (bit 4).
        byte deviceSpecific = (byte)((unit.WriteProtected ? 0x80 : 0) | 0x10);
        if (ten)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)(n - 2));
            data[3] = deviceSpecific;
            if (longLba && !dbd) data[4] = 0x01;
            BinaryPrimitives.WriteUInt16BigEndian(data[6..], (ushort)descriptors);
        }
        else
        {
            data[0] = (byte)(n - 1);
            data[2] = deviceSpecific;
            data[3] = (byte)descriptors;
        }
        task.CompleteDataIn(data[..n], allocation);
    }

    private static void ModeSelect(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool ten = cdb[0] == ScsiOpcodes.ModeSelect10;
        // SPC-4 §6.9: SP = 1 without saved pages is INVALID FIELD IN CDB.
        if ((cdb[1] & 0x01) != 0) { task.CompleteInvalidField(1, 0); return; }
        int length = ten ? BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]) : cdb[4];
        if (length == 0) { task.CompleteGood(); return; }
        int header = ten ? 8 : 4;
        if (length < header || length > task.BufferLength) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
        Span<byte> list = stackalloc byte[length];
        task.ReadDataOut(list);

        var unit = task.Unit;
        int descriptorLength = ten ? BinaryPrimitives.ReadUInt16BigEndian(list[6..]) : list[3];
        int descriptorField = ten ? 6 : 3;
        bool longLba = ten && (list[4] & 0x01) != 0;
        int expected = longLba ? 16 : 8;
        if (descriptorLength != 0 && descriptorLength != expected) { Fail(task, descriptorField); return; }
        if (header + descriptorLength > length) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
        if (descriptorLength != 0)
        {
            // The block size cannot be changed: the descriptor's block length must be the LU's.
            int at = header + (longLba ? 12 : 5);
            int blockLength = longLba ? (int)BinaryPrimitives.ReadUInt32BigEndian(list[at..]) : (list[at] << 16) | (list[at + 1] << 8) | list[at + 2];
            if (blockLength != task.Device.Geometry.LogicalBlockSize) { Fail(task, at); return; }
        }

        var proposed = ModeParameters.Defaults(false);
        proposed.CopyFrom(unit.Mode);
        Span<byte> current = stackalloc byte[64];
        for (int offset = header + descriptorLength; offset < length;)
        {
            if (length - offset < 2) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
            var bytes = list[offset..];
            if ((bytes[0] & 0x40) != 0) { Fail(task, offset, 6); return; } // no subpages
            var page = ModePages.Find((byte)(bytes[0] & 0x3F));
            if (page is null) { Fail(task, offset); return; }
            if (bytes[1] != page.Length - 2) { Fail(task, offset + 1); return; }
            if (length - offset < page.Length) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
            ModePages.WritePage(page, 0, unit.Mode, unit.Mode, current);
            for (int i = 2; i < page.Length; i++)
            {
                int bad = (bytes[i] ^ current[i]) & ~page.ChangeableMask[i];
                if (bad != 0) { Fail(task, offset + i, System.Numerics.BitOperations.Log2((uint)bad)); return; }
            }
            page.Apply(proposed, bytes[..page.Length]);
            offset += page.Length;
        }
        bool changed = proposed.WriteCacheEnabled != unit.Mode.WriteCacheEnabled || proposed.DescriptorSense != unit.Mode.DescriptorSense ||
                       proposed.SoftwareWriteProtect != unit.Mode.SoftwareWriteProtect || proposed.DisableExceptions != unit.Mode.DisableExceptions ||
                       proposed.ReportingMethod != unit.Mode.ReportingMethod;
        unit.Mode.CopyFrom(proposed);
        // SPC-4 §6.9: the other I_T nexuses learn of the change through MODE PARAMETERS CHANGED.
        if (changed) unit.Nexuses.AddToAll(SenseCodes.ModeParametersChanged, task.Nexus);
        task.CompleteTransfer(length);
    }

    private static void Fail(ScsiTask task, int byteIndex, int bit = -1) =>
        task.CompleteCheckCondition(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(byteIndex, bit));
}
