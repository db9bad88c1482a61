using System.Buffers.Binary;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>REPORT LUNS (SPC-4 §6.33): the LUNs behind the addressed target.</summary>
internal static class ReportLunsCommand
{
    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.ReportLuns, "REPORT LUNS", DataDirection.In,
            [ScsiOpcodes.ReportLuns, 0x00, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.IgnoresUnitAttention | ScsiCommandFlags.AnswersForAbsentUnit, ReportLuns),
    ];

    private static void ReportLuns(ScsiTask task)
    {
        var cdb = task.Cdb;
        byte select = cdb[2];
        uint allocation = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
        // SPC-4 §6.33: an allocation length under 16 is INVALID FIELD IN CDB.
        if (allocation < 16) { task.CompleteInvalidField(6); return; }
        // SELECT REPORT 00h: the LUNs of the target; 01h: well-known LUNs only (none here); 02h: both.
        if (select > 0x02) { task.CompleteInvalidField(2); return; }
        Span<byte> data = stackalloc byte[8 + 8 * 256];
        data.Clear();
        int n = 8;
        if (select != 0x01)
        {
            var address = task.Unit.Address;
            foreach (var lun in task.Unit.Miniport.LunsOf(address.PathId, address.TargetId))
                n += Encode(lun, data[n..]);
        }
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(n - 8));
        // SPC-4 §6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED for its nexus.
        task.Nexus?.Clear(SenseCodes.ReportedLunsDataHasChanged);
        task.CompleteDataIn(data[..n], allocation);
    }

    /// <summary>
    /// An 8-byte LUN (SAM-5 §4.7): peripheral device addressing (method 00b, bus 0) for LUNs
    /// below 256, flat space addressing (01b) for larger ones up to 16383.
    /// </summary>
    public static int Encode(int lun, Span<byte> destination)
    {
        destination[..8].Clear();
        if (lun < 256) destination[1] = (byte)lun;
        else
        {
            destination[0] = (byte)(0x40 | ((lun >> 8) & 0x3F));
            destination[1] = (byte)lun;
        }
        return 8;
    }
}
