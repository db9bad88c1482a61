using System.Buffers.Binary;
using StorSharp.Port;
using StorSharp.Scsi;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Optical;

/// <summary>GET PERFORMANCE (MMC-6 §6.8) types 00h and 03h, and SET CD SPEED (MMC-6 §6.37), accepted: a virtual disc has one speed.</summary>
internal static class PerformanceCommands
{
    public static ScsiCommand[] Rows =>
    [
        // Byte 1 DATA TYPE (4-0: Write, Except); bytes 2-5 STARTING LBA; 8-9 MAXIMUM NUMBER OF DESCRIPTORS; 10 TYPE.
        Row(MmcOpcodes.GetPerformance, "GET PERFORMANCE", DataDirection.In, [MmcOpcodes.GetPerformance, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, GetPerformance),
        // Byte 1 ROTATIONAL CONTROL (1-0); 2-3 READ SPEED; 4-5 WRITE SPEED.
        Row(MmcOpcodes.SetCdSpeed, "SET CD SPEED", DataDirection.None, [MmcOpcodes.SetCdSpeed, 0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            ReservationAccess.Conflicts, ScsiCommandFlags.None, task => task.CompleteGood()),
    ];

    private const int HeaderLength = 8, DescriptorLength = 16;

    private static void GetPerformance(ScsiTask task)
    {
        var cdb = task.Cdb;
        int type = cdb[10];
        int maxDescriptors = BinaryPrimitives.ReadUInt16BigEndian(cdb[8..]);
        Span<byte> d = stackalloc byte[HeaderLength + DescriptorLength];
        d.Clear();
        int n = HeaderLength;
        switch (type)
        {
            case 0x00: // performance data
                bool write = (cdb[1] & 0x04) != 0;
                int except = cdb[1] & 0x03;
                if (except == 3) { task.CompleteInvalidField(1, 1); return; }
                d[4] = (byte)((write ? 0x02 : 0) | (except != 0 ? 0x01 : 0));
                long sectors = task.Device.Geometry.BlockCount;
                // Nominal read performance over the whole disc (no exceptions, nothing written).
                if (!write && except == 0 && sectors > 0)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(d[(n + 0)..], 0);
                    BinaryPrimitives.WriteUInt32BigEndian(d[(n + 4)..], MmcModePages.ReadSpeedKBps);
                    BinaryPrimitives.WriteUInt32BigEndian(d[(n + 8)..], (uint)(sectors - 1));
                    BinaryPrimitives.WriteUInt32BigEndian(d[(n + 12)..], MmcModePages.ReadSpeedKBps);
                    n += DescriptorLength;
                }
                break;
            case 0x03: // write speed: none, the drive does not write
                break;
            default:
                task.CompleteInvalidField(10);
                return;
        }
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(n - 4)); // PERFORMANCE DATA LENGTH excludes itself
        task.CompleteDataIn(d[..n], HeaderLength + (long)DescriptorLength * maxDescriptors);
    }
}
