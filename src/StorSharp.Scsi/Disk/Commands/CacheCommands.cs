using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>SYNCHRONIZE CACHE(10) and (16) (SBC-4 §5.24, §5.25): a flush of the block device.</summary>
internal static class CacheCommands
{
    public static ScsiCommand[] Rows =>
    [
        // Byte 1: IMMED (bit 1) and the obsolete SYNC_NV (bit 2) are accepted; the flush always
        // completes before the status, which IMMED permits.
        Row(ScsiOpcodes.SynchronizeCache10, "SYNCHRONIZE CACHE(10)", DataDirection.None,
            [ScsiOpcodes.SynchronizeCache10, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium, SynchronizeCache),
        Row(ScsiOpcodes.SynchronizeCache16, "SYNCHRONIZE CACHE(16)", DataDirection.None,
            [ScsiOpcodes.SynchronizeCache16, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium, SynchronizeCache),
    ];

    private static void SynchronizeCache(ScsiTask task)
    {
        BlockCdb.TryRead(task.Cdb, out var c);
        // SBC-4 §5.24: NUMBER OF LOGICAL BLOCKS 0 means "to the end of the medium"; the range is still checked.
        ulong capacity = (ulong)task.Device.Geometry.BlockCount;
        if (!BlockCdb.IsInRange(c.Lba, c.TransferLength, capacity))
        {
            task.CompleteCheckCondition(SenseCodes.LbaOutOfRange);
            return;
        }
        task.StartFlush(srbFunction: false);
    }
}
