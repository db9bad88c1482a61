using System.Buffers.Binary;
using System.Text;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>INQUIRY (SPC-4 §6.6): standard data and the vital product data pages of <see cref="VpdPages"/>.</summary>
internal static class InquiryCommand
{
    /// <summary>The length of the standard INQUIRY data returned: through the version descriptors, padded to 96.</summary>
    public const int StandardLength = 96;

    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.Inquiry, "INQUIRY", DataDirection.In,
            [ScsiOpcodes.Inquiry, 0x01, 0xFF, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.IgnoresUnitAttention | ScsiCommandFlags.AnswersForAbsentUnit, Inquiry),
    ];

    private static void Inquiry(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool evpd = (cdb[1] & 0x01) != 0;
        byte page = cdb[2];
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[3..]);
        if (!evpd)
        {
            // SPC-4 §6.6.1: a page code with EVPD = 0 is an error.
            if (page != 0) { task.CompleteInvalidField(2); return; }
            Span<byte> data = stackalloc byte[StandardLength];
            WriteStandard(task.Unit, data);
            task.CompleteDataIn(data, allocation);
            return;
        }
        var builder = VpdPages.Find(page, task.Unit);
        if (builder is null) { task.CompleteInvalidField(2); return; }
        Span<byte> vpd = stackalloc byte[VpdPages.MaxLength];
        vpd.Clear();
        vpd[0] = PeripheralByte(task.Unit);
        vpd[1] = page;
        int length = builder(task, vpd);
        BinaryPrimitives.WriteUInt16BigEndian(vpd[2..], (ushort)(length - 4));
        task.CompleteDataIn(vpd[..length], allocation);
    }

    /// <summary>PERIPHERAL QUALIFIER and DEVICE TYPE: 000b and the device type's code (00h disk, 05h CD/DVD), 011b/1Fh for a LUN that is not there.</summary>
    public static byte PeripheralByte(DiskUnit unit) => unit.Present ? unit.Miniport.Model.PeripheralDeviceType : (byte)0x7F;

    /// <summary>Standard INQUIRY data (SPC-4 §6.6.2, table 142).</summary>
    public static void WriteStandard(DiskUnit unit, Span<byte> d)
    {
        d.Clear();
        d[0] = PeripheralByte(unit);
        var def = unit.Definition;
        if (def?.Removable == true) d[1] = 0x80; // RMB
        d[2] = 0x06;                      // VERSION: SPC-4
        d[3] = 0x10 | 0x02;               // HISUP, RESPONSE DATA FORMAT 2
        d[4] = (byte)(d.Length - 5);      // ADDITIONAL LENGTH
        if (unit.Present && unit.Miniport.Model.CopyManager) d[5] = 0x08; // 3PC: a copy manager (EXTENDED COPY) is addressable through this LU
        d[7] = 0x02;                      // CMDQUE: full task management model
        Ascii(d.Slice(8, 8), def?.VendorId ?? "StorShrp");
        Ascii(d.Slice(16, 16), def?.ProductId ?? "");
        Ascii(d.Slice(32, 4), def?.ProductRevision ?? "");
        // Version descriptors (SPC-4 §6.6.2, table 144): SAM-5, SPC-4, then the command set (SBC-3, MMC-6).
        BinaryPrimitives.WriteUInt16BigEndian(d[58..], 0x00A0);
        BinaryPrimitives.WriteUInt16BigEndian(d[60..], 0x0460);
        BinaryPrimitives.WriteUInt16BigEndian(d[62..], unit.Miniport.Model.CommandSetVersionDescriptor);
    }

    /// <summary>Left-aligned ASCII padded with spaces (SPC-4 §4.4.1), truncated to the field.</summary>
    public static void Ascii(Span<byte> field, string text)
    {
        field.Fill((byte)' ');
        int n = Math.Min(field.Length, text.Length);
        for (int i = 0; i < n; i++) field[i] = text[i] is >= ' ' and <= '~' ? (byte)text[i] : (byte)'?';
    }

    /// <summary>Writes <paramref name="text"/> as ASCII and returns its length (no padding).</summary>
    public static int AsciiRaw(Span<byte> destination, string text) => Encoding.ASCII.GetBytes(text.AsSpan(0, Math.Min(text.Length, destination.Length)), destination);
}
