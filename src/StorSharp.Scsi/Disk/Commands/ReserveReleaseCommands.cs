using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>
/// RESERVE(6)/(10) and RELEASE(6)/(10) (SPC-2 §7.21 - §7.24): the whole-LU reservation of one I_T
/// nexus. While another nexus holds it, every command fails with RESERVATION CONFLICT except
/// INQUIRY, REPORT LUNS, REQUEST SENSE, the REPORT SUPPORTED commands and RELEASE (which is then a
/// no-op, GOOD). A LU or target reset releases it.
/// </summary>
internal static class ReserveReleaseCommands
{
    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.Reserve6, "RESERVE(6)", DataDirection.None, [ScsiOpcodes.Reserve6, 0x00, 0x00, 0x00, 0x00, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, Reserve),
        Row(ScsiOpcodes.Release6, "RELEASE(6)", DataDirection.None, [ScsiOpcodes.Release6, 0x00, 0x00, 0x00, 0x00, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, Release),
        Row(ScsiOpcodes.Reserve10, "RESERVE(10)", DataDirection.None, [ScsiOpcodes.Reserve10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, Reserve),
        Row(ScsiOpcodes.Release10, "RELEASE(10)", DataDirection.None, [ScsiOpcodes.Release10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, Release),
    ];

    private static void Reserve(ScsiTask task)
    {
        // Dispatch already refused a reservation held by another nexus; reserving again is GOOD.
        task.Unit.TryReserve(task.Srb.Nexus.Id);
        task.CompleteGood();
    }

    private static void Release(ScsiTask task)
    {
        task.Unit.Release(task.Srb.Nexus.Id);
        task.CompleteGood();
    }

    /// <summary>True when <paramref name="command"/> from <paramref name="nexusId"/> conflicts with the LU's RESERVE.</summary>
    public static bool Conflicts(DiskUnit unit, long nexusId, ScsiCommand command)
    {
        long holder = unit.ReservationHolder;
        if (holder == 0 || holder == nexusId) return false;
        if (command.Opcode is ScsiOpcodes.Release6 or ScsiOpcodes.Release10 or ScsiOpcodes.MaintenanceIn) return false;
        return (command.Flags & ScsiCommandFlags.IgnoresUnitAttention) == 0;
    }
}
