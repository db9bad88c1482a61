using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Optical;

/// <summary>
/// READ CD (MMC-6 §6.19) for the user data of a Mode 1 data track: with main channel selection
/// "user data" only (byte 9 = 10h) it reads what READ(10) reads; with nothing selected (00h) it
/// transfers nothing. Sync, headers, EDC/ECC, C2 and sub-channel data would have to be invented
/// for an image that holds only user data, so those selections are INVALID FIELD IN CDB.
/// </summary>
internal static class ReadCdCommand
{
    public static ScsiCommand[] Rows =>
    [
        // Byte 1 EXPECTED SECTOR TYPE (4-2), DAP (1); 2-5 LBA; 6-8 TRANSFER LENGTH; 9 main channel selection; 10 sub-channel (2-0).
        Row(MmcOpcodes.ReadCd, "READ CD", DataDirection.In, [MmcOpcodes.ReadCd, 0x1E, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x07, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, ReadCd),
    ];

    private const byte UserData = 0x10;

    private static void ReadCd(ScsiTask task)
    {
        var cdb = task.Cdb;
        // MMC-6 §6.19.1: READ CD on media that is not a CD.
        if (ConfigurationCommand.CurrentProfile(task.Optical()) != MmcProfile.CdRom)
        {
            task.CompleteCheckCondition(SenseCodes.CannotReadMediumIncompatibleFormat);
            return;
        }
        int sectorType = (cdb[1] >> 2) & 0x07;
        if (sectorType > 5) { task.CompleteInvalidField(1, 4); return; }
        // 000b any type, 010b Mode 1 match the data track; CD-DA and the Mode 2 forms do not.
        if (sectorType is not (0 or 2)) { task.CompleteCheckCondition(SenseCodes.IllegalModeForThisTrack); return; }
        if ((cdb[10] & 0x07) != 0) { task.CompleteInvalidField(10, 2); return; }
        byte selection = cdb[9];
        if (selection is not (0 or UserData))
        {
            int bad = selection & ~UserData;
            task.CompleteInvalidField(9, System.Numerics.BitOperations.Log2((uint)(bad != 0 ? bad : selection)));
            return;
        }
        uint lba = BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]);
        int count = (cdb[6] << 16) | (cdb[7] << 8) | cdb[8];
        if (!BlockCdb.IsInRange(lba, (uint)count, (ulong)task.Device.Geometry.BlockCount))
        {
            task.CompleteCheckCondition(SenseCodes.LbaOutOfRange);
            return;
        }
        if (selection == 0) { task.CompleteTransfer(0); return; }
        task.StartBlockIo(false, lba, (long)count * OpticalDisc.SectorSize, BlockWriteFlags.None);
    }
}
