using System.Buffers.Binary;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>
/// START STOP UNIT (SBC-4 §5.27), PREVENT ALLOW MEDIUM REMOVAL (SBC-4 §5.18) and READ DEFECT
/// DATA(10)/(12) (SBC-4 §5.22, §5.23, always an empty list).
/// </summary>
internal static class MediumCommands
{
    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.StartStopUnit, "START STOP UNIT", DataDirection.None, [ScsiOpcodes.StartStopUnit, 0x01, 0x00, 0x0F, 0xF7, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, StartStopUnit),
        Row(ScsiOpcodes.PreventAllowMediumRemoval, "PREVENT ALLOW MEDIUM REMOVAL", DataDirection.None, [ScsiOpcodes.PreventAllowMediumRemoval, 0x00, 0x00, 0x00, 0x03, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, PreventAllow),
        Row(ScsiOpcodes.ReadDefectData10, "READ DEFECT DATA(10)", DataDirection.In, [ScsiOpcodes.ReadDefectData10, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, ReadDefectData),
        Row(ScsiOpcodes.ReadDefectData12, "READ DEFECT DATA(12)", DataDirection.In, [ScsiOpcodes.ReadDefectData12, 0x1F, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, ReadDefectData),
    ];

    private static void StartStopUnit(ScsiTask task)
    {
        var cdb = task.Cdb;
        int powerCondition = cdb[4] >> 4;
        bool noFlush = (cdb[4] & 0x04) != 0;
        bool loej = (cdb[4] & 0x02) != 0;
        bool start = (cdb[4] & 0x01) != 0;
        // SBC-4 §5.27: with a POWER CONDITION other than START_VALID (0h), START and LOEJ are
        // ignored. A virtual disk has no power states to enter, so every value is accepted and
        // changes nothing (libiscsi's StartStopUnit.PwrCnd sends 1h..Fh and expects GOOD and the
        // medium still present).
        if (powerCondition != 0) { task.CompleteGood(); return; }
        var unit = task.Unit;
        if (loej)
        {
            if (!unit.Definition!.Removable) { task.CompleteInvalidField(4, 1); return; }
            // SBC-4 §5.18: while any I_T nexus prevents removal, the medium neither leaves nor
            // (libiscsi's PreventAllow.Eject) is loaded by START STOP UNIT.
            if (unit.IsRemovalPrevented) { task.CompleteCheckCondition(SenseCodes.MediumRemovalPrevented); return; }
            unit.MediumPresent = start;
        }
        // START = 0 without LOEJ: the unit stops, but a virtual disk has nothing to spin down, so
        // the next medium access finds it active again (as after an automatic transition from a
        // standby condition); libiscsi's StartStopUnit.NoLoej expects TEST UNIT READY to be GOOD
        // after a stop. Stopping still makes cached data durable unless NO_FLUSH.
        if (start || noFlush) { task.CompleteGood(); return; }
        task.StartFlush(srbFunction: false);
    }

    private static void PreventAllow(ScsiTask task)
    {
        int prevent = task.Cdb[4] & 0x03;
        if (prevent > 1) { task.CompleteInvalidField(4, 1); return; }
        task.Unit.SetRemovalPrevented(task.Srb.Nexus.Id, prevent == 1);
        task.CompleteGood();
    }

    private static void ReadDefectData(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool twelve = cdb[0] == ScsiOpcodes.ReadDefectData12;
        byte request = twelve ? cdb[1] : cdb[2];
        uint allocation = twelve ? BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]) : BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        Span<byte> header = stackalloc byte[8];
        header.Clear();
        // An empty list in the format asked for, with PLISTV/GLISTV echoing what was asked.
        header[1] = (byte)(request & 0x1F);
        task.CompleteDataIn(header[..(twelve ? 8 : 4)], allocation);
    }
}
