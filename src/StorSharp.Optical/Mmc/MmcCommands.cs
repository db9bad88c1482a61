using StorSharp.Port;
using StorSharp.Scsi;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Optical;

/// <summary>
/// The MMC device's opcode table (MMC-6 with SPC-4): the SPC rows it shares with the disk
/// (TEST UNIT READY, REQUEST SENSE, INQUIRY, REPORT LUNS, READ CAPACITY(10), SYNCHRONIZE CACHE(10):
/// nothing is cached, so it only checks the range) and the disk's READ
/// handler under MMC's CDB layouts, then the MMC commands of each family file.
/// </summary>
internal static class MmcCommands
{
    // READ(10)/(12) and WRITE(10)/(12) byte 1 in MMC-6: DPO (bit 4) and FUA (bit 3).
    private const byte ReadFlags = 0x18;

    private static readonly byte[] SharedOpcodes =
        [ScsiOpcodes.TestUnitReady, ScsiOpcodes.RequestSense, ScsiOpcodes.Inquiry, ScsiOpcodes.ReportLuns, ScsiOpcodes.ReadCapacity10, ScsiOpcodes.SynchronizeCache10];

    public static ScsiCommandTable Table { get; } = new(
    [
        .. ScsiDiskMiniport.Commands.Commands.Where(c => c.ServiceAction is null && SharedOpcodes.Contains(c.Opcode)),
        Row(ScsiOpcodes.Read10, "READ(10)", DataDirection.In, [ScsiOpcodes.Read10, ReadFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, ReadWriteCommands.Read),
        // READ(12) byte 10 bit 7: Streaming (MMC-6 §6.24), accepted: reads are never retried anyway.
        Row(ScsiOpcodes.Read12, "READ(12)", DataDirection.In, [ScsiOpcodes.Read12, ReadFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, ReadWriteCommands.Read),
        // Writes reach the write-protect check of dispatch: DATA PROTECT, WRITE PROTECTED (27h/00h).
        Row(ScsiOpcodes.Write10, "WRITE(10)", DataDirection.Out, [ScsiOpcodes.Write10, ReadFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, ReadWriteCommands.Write),
        Row(ScsiOpcodes.Write12, "WRITE(12)", DataDirection.Out, [ScsiOpcodes.Write12, ReadFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, ReadWriteCommands.Write),
        .. MechanismCommands.Rows,
        .. TocCommands.Rows,
        .. ConfigurationCommand.Rows,
        .. EventStatusCommand.Rows,
        .. MmcModeCommands.Rows,
        .. PerformanceCommands.Rows,
        .. ReadCdCommand.Rows,
        .. DiscStructureCommand.Rows,
    ]);
}
