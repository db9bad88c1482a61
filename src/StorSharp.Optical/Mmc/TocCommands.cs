using System.Buffers.Binary;
using StorSharp.Port;
using StorSharp.Scsi;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Optical;

/// <summary>
/// READ TOC/PMA/ATIP (MMC-6 §6.26), READ DISC INFORMATION (§6.22) and READ TRACK INFORMATION
/// (§6.27) for the one layout a disc image has: a finalized disc, one session, one data track
/// (ADR 1, CONTROL 4: digital data, uninterrupted) from LBA 0 to the lead-out at the disc's size.
/// </summary>
internal static class TocCommands
{
    /// <summary>ADR 1 (Q sub-channel position) and CONTROL 4 (data track, recorded uninterrupted).</summary>
    private const byte AdrControl = 0x14;

    private const byte LeadOut = 0xAA;

    public static ScsiCommand[] Rows =>
    [
        // Byte 1 MSF (1); byte 2 FORMAT (3-0); byte 6 TRACK/SESSION NUMBER; the control byte's vendor
        // bits 7-6 carry SFF-8020's old format field (Linux sr sends 40h there for session info).
        Row(MmcOpcodes.ReadTocPmaAtip, "READ TOC/PMA/ATIP", DataDirection.In, [MmcOpcodes.ReadTocPmaAtip, 0x02, 0x0F, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, ReadToc),
        Row(MmcOpcodes.ReadDiscInformation, "READ DISC INFORMATION", DataDirection.In, [MmcOpcodes.ReadDiscInformation, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, ReadDiscInformation),
        // Byte 1: OPEN (2), ADDRESS/NUMBER TYPE (1-0).
        Row(MmcOpcodes.ReadTrackInformation, "READ TRACK INFORMATION", DataDirection.In, [MmcOpcodes.ReadTrackInformation, 0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, ReadTrackInformation),
    ];

    /// <summary>
    /// Writes an address as an LBA or, with <paramref name="msf"/>, as 0, M, S, F of LBA + 150
    /// (the 2-second pre-gap; MMC-6 §4.2.3.4). Addresses past 255:59:74 read as that maximum.
    /// </summary>
    public static void WriteAddress(Span<byte> destination, long lba, bool msf)
    {
        if (!msf) { BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)lba); return; }
        destination[0] = 0;
        WriteMsf(destination[1..], lba);
    }

    /// <summary>Writes M, S, F (three bytes) of <paramref name="lba"/> + 150.</summary>
    public static void WriteMsf(Span<byte> destination, long lba)
    {
        long frames = Math.Min(lba + 150, 256L * 60 * 75 - 1);
        destination[0] = (byte)(frames / (60 * 75));
        destination[1] = (byte)(frames / 75 % 60);
        destination[2] = (byte)(frames % 75);
    }

    private static void ReadToc(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool msf = (cdb[1] & 0x02) != 0;
        int format = cdb[2] & 0x0F;
        int formatByte = 2;
        if (format == 0 && (cdb[9] & 0xC0) != 0) { format = cdb[9] >> 6; formatByte = 9; }
        byte number = cdb[6];
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        long sectors = task.Device.Geometry.BlockCount;
        Span<byte> d = stackalloc byte[4 + 4 * 11];
        d.Clear();
        int n;
        switch (format)
        {
            case 0: // formatted TOC: track descriptors from track NUMBER on, then the lead-out
                if (number > 1 && number != LeadOut) { task.CompleteInvalidField(6); return; }
                n = 4;
                if (number <= 1) n += TrackDescriptor(d[n..], 1, 0, msf);
                n += TrackDescriptor(d[n..], LeadOut, sectors, msf);
                d[2] = 1; // first track
                d[3] = 1; // last track
                break;
            case 1: // session information: the first track of the last complete session
                d[2] = 1; // first complete session
                d[3] = 1; // last complete session
                n = 4 + TrackDescriptor(d[4..], 1, 0, msf);
                break;
            case 2: // full TOC (raw Q sub-channel), addresses always in MSF
                if (number > 1) { task.CompleteInvalidField(6); return; }
                d[2] = 1;
                d[3] = 1;
                n = 4;
                n += RawDescriptor(d[n..], 0xA0, [1, 0x00, 0]); // first track 1, disc type 00h (CD-DA / CD-ROM)
                n += RawDescriptor(d[n..], 0xA1, [1, 0, 0]);    // last track 1
                Span<byte> leadOut = stackalloc byte[3];
                WriteMsf(leadOut, sectors);
                n += RawDescriptor(d[n..], 0xA2, leadOut);      // lead-out start
                Span<byte> track = stackalloc byte[3];
                WriteMsf(track, 0);
                n += RawDescriptor(d[n..], 0x01, track);        // track 1 start
                break;
            default:
                // PMA (3), ATIP (4) and CD-TEXT (5) do not exist on a pressed (ROM) disc.
                task.CompleteCheckCondition(SenseCodes.InvalidFieldInCdb, formatByte == 2 ? SenseKeySpecific.Cdb(2, 3) : SenseKeySpecific.Cdb(9, 7));
                return;
        }
        BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)(n - 2)); // TOC DATA LENGTH excludes itself
        task.CompleteDataIn(d[..n], allocation);
    }

    private static int TrackDescriptor(Span<byte> d, byte track, long lba, bool msf)
    {
        d[0] = 0;
        d[1] = AdrControl;
        d[2] = track;
        d[3] = 0;
        WriteAddress(d[4..], lba, msf);
        return 8;
    }

    private static int RawDescriptor(Span<byte> d, byte point, ReadOnlySpan<byte> p)
    {
        d[0] = 1;          // session number
        d[1] = AdrControl;
        d[2] = 0;          // TNO: lead-in
        d[3] = point;
        d[4] = d[5] = d[6] = d[7] = 0; // ATIP time and zero
        p.CopyTo(d[8..]);  // PMIN, PSEC, PFRAME
        return 11;
    }

    private static void ReadDiscInformation(ScsiTask task)
    {
        var cdb = task.Cdb;
        // Data type 000b (standard disc information); track and POW resources are for writable media.
        if ((cdb[1] & 0x07) != 0) { task.CompleteInvalidField(1, 2); return; }
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        Span<byte> d = stackalloc byte[34];
        d.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(d, 32);  // DISC INFORMATION LENGTH
        d[2] = 0x0E;      // not erasable, last session complete (11b), disc complete (10b)
        d[3] = 1;         // first track on disc
        d[4] = 1;         // number of sessions (LSB)
        d[5] = 1;         // first track in last session (LSB)
        d[6] = 1;         // last track in last session (LSB)
        d[8] = 0x00;      // disc type: CD-DA or CD-ROM (also reported for non-CD media)
        // Last session lead-in start and last possible lead-out start: FFFFFFFFh on a complete disc.
        BinaryPrimitives.WriteUInt32BigEndian(d[16..], 0xFFFFFFFF);
        BinaryPrimitives.WriteUInt32BigEndian(d[20..], 0xFFFFFFFF);
        task.CompleteDataIn(d, allocation);
    }

    private static void ReadTrackInformation(ScsiTask task)
    {
        var cdb = task.Cdb;
        int type = cdb[1] & 0x03;
        uint value = BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]);
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        long sectors = task.Device.Geometry.BlockCount;
        switch (type)
        {
            case 0: // an LBA: the track that holds it
                if (value >= sectors) { task.CompleteCheckCondition(SenseCodes.LbaOutOfRange); return; }
                break;
            case 1: // a track number
            case 2: // a session number: its first track
                if (value != 1) { task.CompleteInvalidField(2); return; }
                break;
            default:
                task.CompleteInvalidField(1, 1);
                return;
        }
        Span<byte> d = stackalloc byte[48];
        d.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(d, 46); // DATA LENGTH
        d[2] = 1;       // track number (LSB)
        d[3] = 1;       // session number (LSB)
        d[5] = 0x04;    // track mode: data, recorded uninterrupted
        d[6] = 0x01;    // data mode 1; not blank, not packet, not reserved
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], 0);                     // track start address
        BinaryPrimitives.WriteUInt32BigEndian(d[24..], (uint)sectors);        // track size
        BinaryPrimitives.WriteUInt32BigEndian(d[28..], (uint)(sectors - 1));  // last recorded address (LRA_V = 0: informative)
        task.CompleteDataIn(d, allocation);
    }
}
