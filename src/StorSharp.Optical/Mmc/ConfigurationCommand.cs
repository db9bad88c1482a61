using System.Buffers.Binary;
using StorSharp.Port;
using StorSharp.Scsi;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Optical;

/// <summary>
/// GET CONFIGURATION (MMC-6 §6.6): the feature header with the current profile, then the feature
/// descriptors of <see cref="Features"/> that the RT field selects.
/// </summary>
internal static class ConfigurationCommand
{
    public static ScsiCommand[] Rows =>
    [
        // Byte 1 RT (1-0); bytes 2-3 STARTING FEATURE NUMBER; bytes 7-8 ALLOCATION LENGTH. MMC-6 §4.1.6.1:
        // GET CONFIGURATION is answered while a unit attention is pending.
        Row(MmcOpcodes.GetConfiguration, "GET CONFIGURATION", DataDirection.In, [MmcOpcodes.GetConfiguration, 0x03, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.IgnoresUnitAttention, GetConfiguration),
    ];

    /// <summary>The profiles the drive can present, most capable first (the Profile List order).</summary>
    private static readonly MmcProfile[] s_profiles = [MmcProfile.DvdRom, MmcProfile.CdRom];

    /// <summary>Writes a feature's additional data; returns its length (a multiple of 4).</summary>
    private delegate int FeatureData(OpticalUnit unit, MmcProfile current, Span<byte> data);

    private sealed record Feature(ushort Code, byte Version, bool Persistent, Func<MmcProfile, bool> IsCurrent, FeatureData Write);

    /// <summary>The features, ascending by feature code.</summary>
    private static readonly Feature[] Features =
    [
        new(0x0000, 0, true, _ => true, ProfileList),
        new(0x0001, 2, true, _ => true, Core),
        new(0x0002, 1, true, _ => true, Morphing),
        new(0x0003, 2, true, _ => true, RemovableMedium),
        new(0x0010, 0, false, p => p != MmcProfile.None, RandomReadable),
        new(0x001E, 2, false, p => p == MmcProfile.CdRom, FourZeroBytes),   // CD Read: no CD-Text, C2 or DAP
        new(0x001F, 1, false, p => p == MmcProfile.DvdRom, FourZeroBytes),  // DVD Read: no MULTI110, no dual layer R/RW
        new(0x0100, 0, true, _ => true, (_, _, _) => 0),                    // Power Management
        new(0x0107, 3, false, _ => true, RealTimeStreaming),
    ];

    /// <summary>The current profile: the loaded disc's, or none.</summary>
    public static MmcProfile CurrentProfile(OpticalUnit unit) => unit.Drive.LoadedDisc?.Profile ?? MmcProfile.None;

    private static void GetConfiguration(ScsiTask task)
    {
        var cdb = task.Cdb;
        int rt = cdb[1] & 0x03;
        // RT 11b is reserved.
        if (rt == 3) { task.CompleteInvalidField(1, 1); return; }
        int start = BinaryPrimitives.ReadUInt16BigEndian(cdb[2..]);
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        var unit = task.Optical();
        var profile = CurrentProfile(unit);
        Span<byte> d = stackalloc byte[256];
        d.Clear();
        int n = 8;
        foreach (var f in Features)
        {
            // RT 00b: every feature from STARTING FEATURE NUMBER on; 01b: only the current ones;
            // 10b: exactly the one named (none when the drive lacks it).
            if (f.Code < start) continue;
            if (rt == 2 && f.Code != start) continue;
            bool current = f.IsCurrent(profile);
            if (rt == 1 && !current) continue;
            BinaryPrimitives.WriteUInt16BigEndian(d[n..], f.Code);
            d[n + 2] = (byte)((f.Version << 2) | (f.Persistent ? 0x02 : 0) | (current ? 0x01 : 0));
            int length = f.Write(unit, profile, d[(n + 4)..]);
            d[n + 3] = (byte)length;
            n += 4 + length;
        }
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(n - 4)); // DATA LENGTH excludes itself
        BinaryPrimitives.WriteUInt16BigEndian(d[6..], (ushort)profile);
        task.CompleteDataIn(d[..n], allocation);
    }

    private static int ProfileList(OpticalUnit unit, MmcProfile current, Span<byte> d)
    {
        int n = 0;
        foreach (var p in s_profiles)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d[n..], (ushort)p);
            d[n + 2] = (byte)(p == current ? 0x01 : 0); // CurrentP
            d[n + 3] = 0;
            n += 4;
        }
        return n;
    }

    private static int Core(OpticalUnit unit, MmcProfile current, Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32BigEndian(d, 1); // PHYSICAL INTERFACE STANDARD: SCSI family
        d[4] = 0x01;                                 // DBE: the device busy event class is reported
        d[5] = d[6] = d[7] = 0;
        return 8;
    }

    private static int Morphing(OpticalUnit unit, MmcProfile current, Span<byte> d)
    {
        d[..4].Clear();
        d[0] = 0x02; // OCEvent: operational change events through GESN; ASYNC 0 (polling only)
        return 4;
    }

    private static int RemovableMedium(OpticalUnit unit, MmcProfile current, Span<byte> d)
    {
        d[..4].Clear();
        // LOADING MECHANISM TYPE 001b (tray), LOAD (4): START STOP UNIT closes the tray, EJECT (3):
        // it opens it, LOCK (0): PREVENT ALLOW MEDIUM REMOVAL locks it. No prevent jumper, no DBML.
        d[0] = 0x20 | 0x10 | 0x08 | 0x01;
        return 4;
    }

    private static int RandomReadable(OpticalUnit unit, MmcProfile current, Span<byte> d)
    {
        d[..8].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(d, OpticalDisc.SectorSize);                    // LOGICAL BLOCK SIZE
        BinaryPrimitives.WriteUInt16BigEndian(d[4..], (ushort)(current == MmcProfile.CdRom ? 1 : 16)); // BLOCKING: one ECC block
        d[6] = 0x01;                                                                         // PP: the error recovery page exists
        return 8;
    }

    private static int FourZeroBytes(OpticalUnit unit, MmcProfile current, Span<byte> d)
    {
        d[..4].Clear();
        return 4;
    }

    private static int RealTimeStreaming(OpticalUnit unit, MmcProfile current, Span<byte> d)
    {
        d[..4].Clear();
        d[0] = 0x08; // SCS: SET CD SPEED is supported; no streaming write, no write speed report
        return 4;
    }
}
