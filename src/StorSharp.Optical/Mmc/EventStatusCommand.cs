using System.Buffers.Binary;
using StorSharp.Port;
using StorSharp.Scsi;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Optical;

/// <summary>
/// GET EVENT STATUS NOTIFICATION (MMC-6 §6.7), polled only: the operational change, power
/// management, media and device busy classes. Media events (NewMedia, MediaRemoval, EjectRequest)
/// are kept per I_T nexus and cleared when reported; the other classes never have an event.
/// </summary>
internal static class EventStatusCommand
{
    private const byte OperationalChange = 1, PowerManagement = 2, Media = 4, DeviceBusy = 6;

    /// <summary>SUPPORTED EVENT CLASSES: bit n for class n.</summary>
    public const byte SupportedClasses = (1 << OperationalChange) | (1 << PowerManagement) | (1 << Media) | (1 << DeviceBusy);

    public static ScsiCommand[] Rows =>
    [
        // Byte 1 POLLED (0); byte 4 NOTIFICATION CLASS REQUEST; bytes 7-8 ALLOCATION LENGTH. MMC-6 §4.1.6.1:
        // answered while a unit attention is pending (hosts poll it to learn of media changes).
        Row(MmcOpcodes.GetEventStatusNotification, "GET EVENT STATUS NOTIFICATION", DataDirection.In,
            [MmcOpcodes.GetEventStatusNotification, 0x01, 0x00, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.IgnoresUnitAttention, GetEventStatus),
    ];

    private static void GetEventStatus(ScsiTask task)
    {
        var cdb = task.Cdb;
        // POLLED = 0 asks for asynchronous notification, which this drive does not do.
        if ((cdb[1] & 0x01) == 0) { task.CompleteInvalidField(1, 0); return; }
        int request = cdb[4] & SupportedClasses;
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        Span<byte> d = stackalloc byte[8];
        d.Clear();
        d[3] = SupportedClasses;
        if (request == 0)
        {
            // No requested class is supported: NEA (no event available), header only.
            BinaryPrimitives.WriteUInt16BigEndian(d, 2);
            d[2] = 0x80;
            task.CompleteDataIn(d[..4], allocation);
            return;
        }
        var unit = task.Optical();
        long nexus = task.Srb.Nexus.Id;
        // The lowest-numbered requested class with an event; with none pending, the lowest requested class (no change).
        int cls = (request & (1 << Media)) != 0 && unit.HasMediaEvent(nexus) ? Media : System.Numerics.BitOperations.TrailingZeroCount(request);
        BinaryPrimitives.WriteUInt16BigEndian(d, 6); // EVENT DESCRIPTOR LENGTH: the 2 header bytes after it + 4
        d[2] = (byte)cls;
        switch (cls)
        {
            case PowerManagement:
                d[5] = 0x01; // power status: active
                break;
            case Media:
                var drive = unit.Drive;
                d[4] = (byte)unit.TakeMediaEvent(nexus);
                d[5] = (byte)((drive.LoadedDisc is not null ? 0x02 : 0) | (drive.TrayOpen ? 0x01 : 0)); // MEDIA PRESENT, DOOR OR TRAY OPEN
                break;
            // Operational change: no change, logical unit available. Device busy: no event, not busy.
        }
        task.CompleteDataIn(d, allocation);
    }
}
