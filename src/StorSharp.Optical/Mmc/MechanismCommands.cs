using System.Buffers.Binary;
using StorSharp.Port;
using StorSharp.Scsi;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Optical;

/// <summary>START STOP UNIT (MMC-6 §6.39), PREVENT ALLOW MEDIUM REMOVAL (MMC-6 §6.13) and MECHANISM STATUS (MMC-6 §6.11): the tray.</summary>
internal static class MechanismCommands
{
    public static ScsiCommand[] Rows =>
    [
        // Byte 1 bit 0 IMMED; byte 3 FORMAT-LAYER NUMBER; byte 4 POWER CONDITION (7-4), FL (2, a layer
        // jump on media that have format layers: none here, so accepted and ignored), LOEJ (1), START (0).
        Row(ScsiOpcodes.StartStopUnit, "START STOP UNIT", DataDirection.None, [ScsiOpcodes.StartStopUnit, 0x01, 0x00, 0x03, 0xF7, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, StartStopUnit),
        // Byte 4: Persistent (1), Prevent (0).
        Row(ScsiOpcodes.PreventAllowMediumRemoval, "PREVENT ALLOW MEDIUM REMOVAL", DataDirection.None, [ScsiOpcodes.PreventAllowMediumRemoval, 0x00, 0x00, 0x00, 0x03, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, PreventAllow),
        Row(MmcOpcodes.MechanismStatus, "MECHANISM STATUS", DataDirection.In, [MmcOpcodes.MechanismStatus, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, MechanismStatus),
    ];

    private static void StartStopUnit(ScsiTask task)
    {
        byte b4 = task.Cdb[4];
        bool loej = (b4 & 0x02) != 0, start = (b4 & 0x01) != 0;
        // A POWER CONDITION other than 0h: there are no power states to enter; LOEJ and START are ignored.
        if (b4 >> 4 != 0) { task.CompleteGood(); return; }
        var unit = task.Unit;
        if (!loej)
        {
            // Spinning up without a disc cannot make the unit ready.
            if (start && !unit.MediumPresent)
            {
                task.CompleteCheckCondition(unit.TrayClosed ? SenseCodes.MediumNotPresentTrayClosed : SenseCodes.MediumNotPresentTrayOpen);
                return;
            }
            task.CompleteGood();
            return;
        }
        var drive = task.Optical().Drive;
        // The nexus that loaded knows the medium may have changed: the other nexuses get the unit attention (all get NewMedia).
        if (start) { drive.HostLoad(task.Srb.Nexus.Id); task.CompleteGood(); return; }
        // MMC-6 §6.39: an eject while removal is prevented fails with MEDIUM REMOVAL PREVENTED.
        if (drive.IsRemovalPrevented) { task.CompleteCheckCondition(SenseCodes.MediumRemovalPrevented); return; }
        drive.HostEject();
        task.CompleteGood();
    }

    private static void PreventAllow(ScsiTask task)
    {
        // The Persistent bit changes only how a drive answers its own eject button, which a virtual
        // drive does not have; Prevent locks the tray for this I_T nexus.
        task.Unit.SetRemovalPrevented(task.Srb.Nexus.Id, (task.Cdb[4] & 0x01) != 0);
        task.CompleteGood();
    }

    private static void MechanismStatus(ScsiTask task)
    {
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(task.Cdb[8..]);
        Span<byte> data = stackalloc byte[8];
        data.Clear();
        // Byte 0: no fault, changer ready, current slot 0. Byte 1: mechanism idle, DOOR OPEN (bit 4).
        // No changer: no slots, no slot tables.
        if (task.Optical().Drive.TrayOpen) data[1] = 0x10;
        task.CompleteDataIn(data, allocation);
    }
}
