using StorSharp.Block;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>READ and WRITE 6/10/12/16 (SBC-4 §5.8 - §5.15, §5.37 - §5.44): the hot path.</summary>
internal static class ReadWriteCommands
{
    // Byte 1 of the 10/12/16-byte forms: DPO (bit 4), FUA (bit 3), FUA_NV (bit 1, obsolete but
    // still sent by libiscsi's flag tests). RDPROTECT / WRPROTECT (bits 7-5) stay outside the map:
    // there is no protection information, so a non-zero value is INVALID FIELD IN CDB (SBC-4 §5.14).
    private const byte Flags = 0x1A;

    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.Read6, "READ(6)", DataDirection.In, [ScsiOpcodes.Read6, 0x1F, 0xFF, 0xFF, 0xFF, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, Read),
        Row(ScsiOpcodes.Read10, "READ(10)", DataDirection.In, [ScsiOpcodes.Read10, Flags, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, Read),
        Row(ScsiOpcodes.Read12, "READ(12)", DataDirection.In, [ScsiOpcodes.Read12, Flags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, Read),
        Row(ScsiOpcodes.Read16, "READ(16)", DataDirection.In, [ScsiOpcodes.Read16, Flags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, Read),
        Row(ScsiOpcodes.Write6, "WRITE(6)", DataDirection.Out, [ScsiOpcodes.Write6, 0x1F, 0xFF, 0xFF, 0xFF, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, Write),
        Row(ScsiOpcodes.Write10, "WRITE(10)", DataDirection.Out, [ScsiOpcodes.Write10, Flags, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, Write),
        Row(ScsiOpcodes.Write12, "WRITE(12)", DataDirection.Out, [ScsiOpcodes.Write12, Flags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, Write),
        Row(ScsiOpcodes.Write16, "WRITE(16)", DataDirection.Out, [ScsiOpcodes.Write16, Flags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, Write),
    ];

    /// <summary>The READ handler: range check, then the block I/O engine (shared with other device types' READ commands).</summary>
    internal static void Read(ScsiTask task) => Transfer(task, write: false);

    /// <summary>The WRITE handler.</summary>
    internal static void Write(ScsiTask task) => Transfer(task, write: true);

    private static void Transfer(ScsiTask task, bool write)
    {
        BlockCdb.TryRead(task.Cdb, out var c); // the table guaranteed the length
        var geometry = task.Device.Geometry;
        // SBC-4 §4.5: checked here, before the device is touched, and without overflow.
        if (!BlockCdb.IsInRange(c.Lba, c.TransferLength, (ulong)geometry.BlockCount))
        {
            task.CompleteCheckCondition(SenseCodes.LbaOutOfRange);
            return;
        }
        long bytes = c.TransferLength * (long)geometry.LogicalBlockSize;
        // With WCE = 0 in the caching mode page every write goes to the medium (SBC-4 §6.5.5).
        bool fua = write && (c.Fua || !task.Unit.Mode.WriteCacheEnabled);
        var flags = fua ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None;
        long lba = (long)c.Lba;
        if (write && !task.PublishWrite(lba, lba + c.TransferLength))
        {
            // A COMPARE AND WRITE (or another locked command) holds part of the range: wait for it.
            task.StartBlockIoAfterLocks(lba, c.TransferLength, bytes, flags);
            return;
        }
        task.StartBlockIo(write, lba, bytes, flags);
    }
}
