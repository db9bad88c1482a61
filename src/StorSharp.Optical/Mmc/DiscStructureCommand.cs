using System.Buffers.Binary;
using StorSharp.Port;
using StorSharp.Scsi;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Optical;

/// <summary>
/// READ DISC STRUCTURE (MMC-6 §6.22, READ DVD STRUCTURE in older MMC) for a DVD-ROM: format 00h,
/// the physical format information of a single-layer 120 mm embossed DVD-ROM whose data area
/// starts at PSN 30000h, and format 01h, copyright information (no protection, all regions).
/// </summary>
internal static class DiscStructureCommand
{
    /// <summary>The physical sector number of LBA 0 on a DVD.</summary>
    private const uint DataAreaStart = 0x030000;

    public static ScsiCommand[] Rows =>
    [
        // Byte 1 MEDIA TYPE (3-0); 2-5 ADDRESS; 6 LAYER NUMBER; 7 FORMAT; 8-9 ALLOCATION LENGTH; 10 AGID (7-6).
        Row(MmcOpcodes.ReadDiscStructure, "READ DISC STRUCTURE", DataDirection.In, [MmcOpcodes.ReadDiscStructure, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, ReadDiscStructure),
    ];

    private static void ReadDiscStructure(ScsiTask task)
    {
        var cdb = task.Cdb;
        // MEDIA TYPE 0h: DVD; 1h (BD) and the reserved values are not this drive's media.
        if ((cdb[1] & 0x0F) != 0) { task.CompleteInvalidField(1, 3); return; }
        if (ConfigurationCommand.CurrentProfile(task.Optical()) != MmcProfile.DvdRom)
        {
            task.CompleteCheckCondition(SenseCodes.CannotReadMediumIncompatibleFormat);
            return;
        }
        if (cdb[6] != 0) { task.CompleteInvalidField(6); return; } // one layer
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[8..]);
        long sectors = task.Device.Geometry.BlockCount;
        switch (cdb[7])
        {
            case 0x00:
            {
                var d = new byte[4 + 2048]; // off the hot path: hosts ask once per disc
                BinaryPrimitives.WriteUInt16BigEndian(d, 2048 + 2);
                d[4] = 0x01;  // BOOK TYPE 0h (DVD-ROM), PART VERSION 1
                d[5] = 0x02;  // DISC SIZE 0h (120 mm), MAXIMUM RATE 2h (10.08 Mbps)
                d[6] = 0x01;  // one layer, parallel track path, embossed (read-only) layer
                d[7] = 0x00;  // linear density 0.267 µm/bit, track density 0.74 µm/track
                BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(8), DataAreaStart);                              // starting PSN of the data area
                BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(12), DataAreaStart + (uint)Math.Max(sectors - 1, 0)); // ending PSN of the data area
                // End PSN in layer 0 (dual layer only) and BCA flag stay 0.
                task.CompleteDataIn(d, allocation);
                return;
            }
            case 0x01:
            {
                Span<byte> d = stackalloc byte[8];
                d.Clear();
                BinaryPrimitives.WriteUInt16BigEndian(d, 6);
                // COPYRIGHT PROTECTION SYSTEM TYPE 00h (none); REGION MANAGEMENT INFORMATION 00h (every region).
                task.CompleteDataIn(d, allocation);
                return;
            }
            default:
                task.CompleteInvalidField(7);
                return;
        }
    }
}
