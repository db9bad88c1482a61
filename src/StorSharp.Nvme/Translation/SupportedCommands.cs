using System.Buffers.Binary;
using StorSharp.Scsi;

namespace StorSharp.Nvme;

/// <summary>One SCSI command the translation answers: its opcode, service action and CDB usage data (SPC-4 §6.35.3).</summary>
/// <param name="Opcode">The operation code.</param>
/// <param name="ServiceAction">The service action, or null when the opcode has none.</param>
/// <param name="Name">The command's name in the standard.</param>
/// <param name="Usage">The CDB usage data: the opcode, then every bit the translation looks at or accepts.</param>
/// <param name="NeedsDeallocate">The command exists only when the namespace deallocates (UNMAP, GET LBA STATUS).</param>
internal sealed record SupportedCommand(byte Opcode, byte? ServiceAction, string Name, byte[] Usage, bool NeedsDeallocate = false)
{
    public bool IsAvailableOn(NvmeNamespace ns) => !NeedsDeallocate || ns.SupportsDeallocate;
}

/// <summary>
/// The commands the SCSI-to-NVMe translation answers, and REPORT SUPPORTED OPERATION CODES (SPC-4
/// §6.35) generated from them. <see cref="ScsiTranslation.Execute"/> dispatches exactly these
/// (a test checks every opcode against the table).
/// </summary>
internal static class SupportedCommands
{
    private const int DescriptorLength = 8;
    private const int TimeoutsLength = 12;
    private const uint NominalTimeoutSeconds = 30;

    // DPO and FUA (DPO is a cache hint, accepted and ignored); VERIFY: DPO and BYTCHK; no protection fields.
    private const byte ReadWriteFlags = 0x18;
    private const byte VerifyFlags = 0x16;
    private const byte WriteVerifyFlags = 0x12; // DPO, BYTCHK 0 or 1

    /// <summary>Every row, by opcode then service action (the order REPORT SUPPORTED OPERATION CODES lists them).</summary>
    public static readonly SupportedCommand[] All =
    [
        new(ScsiOpcodes.TestUnitReady, null, "TEST UNIT READY", [ScsiOpcodes.TestUnitReady, 0x00, 0x00, 0x00, 0x00, 0x00]),
        new(ScsiOpcodes.RequestSense, null, "REQUEST SENSE", [ScsiOpcodes.RequestSense, 0x01, 0x00, 0x00, 0xFF, 0x00]),
        new(ScsiOpcodes.Read6, null, "READ(6)", [ScsiOpcodes.Read6, 0x1F, 0xFF, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.Write6, null, "WRITE(6)", [ScsiOpcodes.Write6, 0x1F, 0xFF, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.Inquiry, null, "INQUIRY", [ScsiOpcodes.Inquiry, 0x01, 0xFF, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.ModeSense6, null, "MODE SENSE(6)", [ScsiOpcodes.ModeSense6, 0x08, 0xFF, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.StartStopUnit, null, "START STOP UNIT", [ScsiOpcodes.StartStopUnit, 0x01, 0x00, 0x0F, 0xF7, 0x00]),
        new(ScsiOpcodes.ReadCapacity10, null, "READ CAPACITY(10)", [ScsiOpcodes.ReadCapacity10, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x00]),
        new(ScsiOpcodes.Read10, null, "READ(10)", [ScsiOpcodes.Read10, ReadWriteFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.Write10, null, "WRITE(10)", [ScsiOpcodes.Write10, ReadWriteFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.WriteAndVerify10, null, "WRITE AND VERIFY(10)", [ScsiOpcodes.WriteAndVerify10, WriteVerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.Verify10, null, "VERIFY(10)", [ScsiOpcodes.Verify10, VerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.SynchronizeCache10, null, "SYNCHRONIZE CACHE(10)", [ScsiOpcodes.SynchronizeCache10, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.WriteSame10, null, "WRITE SAME(10)", [ScsiOpcodes.WriteSame10, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.Unmap, null, "UNMAP", [ScsiOpcodes.Unmap, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3F, 0xFF, 0xFF, 0x00], NeedsDeallocate: true),
        new(ScsiOpcodes.ModeSense10, null, "MODE SENSE(10)", [ScsiOpcodes.ModeSense10, 0x08, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00]),
        new(ScsiOpcodes.Read16, null, "READ(16)", [ScsiOpcodes.Read16, ReadWriteFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.CompareAndWrite, null, "COMPARE AND WRITE", [ScsiOpcodes.CompareAndWrite, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.Write16, null, "WRITE(16)", [ScsiOpcodes.Write16, ReadWriteFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.WriteAndVerify16, null, "WRITE AND VERIFY(16)", [ScsiOpcodes.WriteAndVerify16, WriteVerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.Verify16, null, "VERIFY(16)", [ScsiOpcodes.Verify16, VerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.SynchronizeCache16, null, "SYNCHRONIZE CACHE(16)", [ScsiOpcodes.SynchronizeCache16, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.WriteSame16, null, "WRITE SAME(16)", [ScsiOpcodes.WriteSame16, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.ServiceActionIn16, ScsiOpcodes.ReadCapacity16ServiceAction, "READ CAPACITY(16)",
            [ScsiOpcodes.ServiceActionIn16, ScsiOpcodes.ReadCapacity16ServiceAction, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00]),
        new(ScsiOpcodes.ServiceActionIn16, ScsiOpcodes.GetLbaStatusServiceAction, "GET LBA STATUS",
            [ScsiOpcodes.ServiceActionIn16, ScsiOpcodes.GetLbaStatusServiceAction, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00], NeedsDeallocate: true),
        new(ScsiOpcodes.ReportLuns, null, "REPORT LUNS", [ScsiOpcodes.ReportLuns, 0x00, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00]),
        new(ScsiOpcodes.MaintenanceIn, ScsiOpcodes.ReportSupportedOperationCodesServiceAction, "REPORT SUPPORTED OPERATION CODES",
            [ScsiOpcodes.MaintenanceIn, ScsiOpcodes.ReportSupportedOperationCodesServiceAction, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00]),
        new(ScsiOpcodes.Read12, null, "READ(12)", [ScsiOpcodes.Read12, ReadWriteFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.Write12, null, "WRITE(12)", [ScsiOpcodes.Write12, ReadWriteFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.WriteAndVerify12, null, "WRITE AND VERIFY(12)", [ScsiOpcodes.WriteAndVerify12, WriteVerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
        new(ScsiOpcodes.Verify12, null, "VERIFY(12)", [ScsiOpcodes.Verify12, VerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00]),
    ];

    /// <summary>The largest REPORT SUPPORTED OPERATION CODES answer: every row with its timeouts descriptor.</summary>
    public static int MaxLength => 4 + All.Length * (DescriptorLength + TimeoutsLength);

    /// <summary>True when <paramref name="opcode"/> has service actions in the table.</summary>
    public static bool HasServiceActions(byte opcode) => Array.Exists(All, c => c.Opcode == opcode && c.ServiceAction is not null);

    /// <summary>The row for an opcode and service action (null for none), when it is available on <paramref name="ns"/>.</summary>
    public static SupportedCommand? Find(byte opcode, byte? serviceAction, NvmeNamespace ns) =>
        Array.Find(All, c => c.Opcode == opcode && c.ServiceAction == serviceAction && c.IsAvailableOn(ns));

    /// <summary>
    /// REPORT SUPPORTED OPERATION CODES data for <paramref name="cdb"/> into <paramref name="d"/>
    /// (at least <see cref="MaxLength"/> bytes). Returns the length, or -1 with the field pointer of
    /// an invalid REPORTING OPTIONS in <paramref name="bad"/>.
    /// </summary>
    public static int Report(ReadOnlySpan<byte> cdb, NvmeNamespace ns, Span<byte> d, out SenseKeySpecific bad)
    {
        bad = default;
        bool rctd = (cdb[2] & 0x80) != 0;
        int options = cdb[2] & 0x07;
        byte opcode = cdb[3];
        ushort serviceAction = BinaryPrimitives.ReadUInt16BigEndian(cdb[4..]);
        if (options == 0)
        {
            int n = 4;
            foreach (var c in All)
            {
                if (!c.IsAvailableOn(ns)) continue;
                var e = d[n..];
                e[..DescriptorLength].Clear();
                e[0] = c.Opcode;
                BinaryPrimitives.WriteUInt16BigEndian(e[2..], c.ServiceAction ?? 0);
                e[5] = (byte)((rctd ? 0x02 : 0) | (c.ServiceAction is null ? 0 : 0x01)); // CTDP, SERVACTV
                BinaryPrimitives.WriteUInt16BigEndian(e[6..], (ushort)c.Usage.Length);
                n += DescriptorLength;
                if (rctd) n += WriteTimeouts(d[n..]);
            }
            d[..4].Clear();
            BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(n - 4));
            return n;
        }
        bool hasServiceActions = HasServiceActions(opcode);
        SupportedCommand? command;
        switch (options)
        {
            case 1 when !hasServiceActions:
                command = Find(opcode, null, ns);
                break;
            case 2 when hasServiceActions:
                command = serviceAction < 32 ? Find(opcode, (byte)serviceAction, ns) : null;
                break;
            case 3:
                command = hasServiceActions ? (serviceAction < 32 ? Find(opcode, (byte)serviceAction, ns) : null) : Find(opcode, null, ns);
                break;
            default:
                bad = SenseKeySpecific.Cdb(2, 2);
                return -1;
        }
        d[..4].Clear();
        if (command is null)
        {
            d[1] = 0x01; // SUPPORT 001b: not supported
            return 4;
        }
        d[1] = (byte)((rctd ? 0x80 : 0) | 0x03); // CTDP, SUPPORT 011b: supported as the standard says
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], (ushort)command.Usage.Length);
        command.Usage.CopyTo(d[4..]);
        int length = 4 + command.Usage.Length;
        if (rctd) length += WriteTimeouts(d[length..]);
        return length;
    }

    /// <summary>The command timeouts descriptor (SPC-4 §6.35.4): nominal and recommended timeouts in seconds.</summary>
    private static int WriteTimeouts(Span<byte> d)
    {
        d[..TimeoutsLength].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(d, 0x0A);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], NominalTimeoutSeconds);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], NominalTimeoutSeconds);
        return TimeoutsLength;
    }
}
