using System.Buffers.Binary;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>
/// REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35) and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS
/// (SPC-4 §6.36). Both are generated: the first from the opcode table, the second from the list of
/// task management functions the port and this miniport carry out.
/// </summary>
internal static class ReportSupportedCommands
{
    private const int DescriptorLength = 8;
    private const int TimeoutsLength = 12;

    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.MaintenanceIn, "REPORT SUPPORTED OPERATION CODES", DataDirection.In,
            [ScsiOpcodes.MaintenanceIn, ScsiOpcodes.ReportSupportedOperationCodesServiceAction, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, ReportOperationCodes, ScsiOpcodes.ReportSupportedOperationCodesServiceAction),
        Row(ScsiOpcodes.MaintenanceIn, "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", DataDirection.In,
            [ScsiOpcodes.MaintenanceIn, ScsiOpcodes.ReportSupportedTaskManagementFunctionsServiceAction, 0x80, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, ReportTaskManagementFunctions, ScsiOpcodes.ReportSupportedTaskManagementFunctionsServiceAction),
    ];

    /// <summary>
    /// The task management functions carried out, with their bit in the REPORT SUPPORTED TASK
    /// MANAGEMENT FUNCTIONS data (byte, mask): ABORT TASK (the port's ABORT_COMMAND), LOGICAL UNIT
    /// RESET (RESET_LOGICAL_UNIT) and TARGET RESET (RESET_DEVICE).
    /// </summary>
    public static readonly (string Name, SrbFunction Function, int Byte, byte Mask)[] TaskManagementFunctions =
    [
        ("ABORT TASK", SrbFunction.AbortCommand, 0, 0x80),
        ("LOGICAL UNIT RESET", SrbFunction.ResetLogicalUnit, 0, 0x08),
        ("TARGET RESET", SrbFunction.ResetDevice, 0, 0x02),
    ];

    private static void ReportOperationCodes(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool rctd = (cdb[2] & 0x80) != 0;
        int options = cdb[2] & 0x07;
        byte opcode = cdb[3];
        ushort serviceAction = BinaryPrimitives.ReadUInt16BigEndian(cdb[4..]);
        uint allocation = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
        var table = ScsiDiskMiniport.Commands;
        var unit = task.Unit;

        if (options == 0)
        {
            int per = DescriptorLength + (rctd ? TimeoutsLength : 0);
            var data = new byte[4 + table.Commands.Count * per];
            int n = 4;
            foreach (var c in table.Commands)
            {
                if (!c.IsAvailableOn(unit)) continue;
                var d = data.AsSpan(n);
                d[0] = c.Opcode;
                BinaryPrimitives.WriteUInt16BigEndian(d[2..], c.ServiceAction ?? 0);
                d[5] = (byte)((rctd ? 0x02 : 0) | (c.ServiceAction is null ? 0 : 0x01)); // CTDP, SERVACTV
                BinaryPrimitives.WriteUInt16BigEndian(d[6..], (ushort)c.CdbLength);
                n += DescriptorLength;
                if (rctd) n += WriteTimeouts(c, d[DescriptorLength..]);
            }
            BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(n - 4));
            task.CompleteDataIn(data.AsSpan(0, n), allocation);
            return;
        }

        ScsiCommand? command;
        bool hasServiceActions = table.HasServiceActions(opcode);
        switch (options)
        {
            case 1:
                // One opcode without service action; an opcode that has them is an error here.
                if (hasServiceActions) { task.CompleteInvalidField(2, 2); return; }
                command = table.Find(opcode, null);
                break;
            case 2:
                if (!hasServiceActions) { task.CompleteInvalidField(2, 2); return; }
                command = serviceAction < 32 ? table.Find(opcode, (byte)serviceAction) : null;
                break;
            case 3:
                command = hasServiceActions ? (serviceAction < 32 ? table.Find(opcode, (byte)serviceAction) : null) : table.Find(opcode, null);
                break;
            default:
                task.CompleteInvalidField(2, 2);
                return;
        }
        if (command is not null && !command.IsAvailableOn(unit)) command = null;
        Span<byte> one = stackalloc byte[4 + 16 + TimeoutsLength];
        one.Clear();
        if (command is null)
        {
            one[1] = 0x01; // SUPPORT 001b: not supported
            task.CompleteDataIn(one[..4], allocation);
            return;
        }
        one[1] = (byte)((rctd ? 0x80 : 0) | 0x03); // CTDP, SUPPORT 011b: supported as the standard says
        BinaryPrimitives.WriteUInt16BigEndian(one[2..], (ushort)command.CdbLength);
        command.UsageData.CopyTo(one[4..]);
        int length = 4 + command.CdbLength;
        if (rctd) length += WriteTimeouts(command, one[length..]);
        task.CompleteDataIn(one[..length], allocation);
    }

    /// <summary>The command timeouts descriptor (SPC-4 §6.35.4): nominal and recommended timeouts in seconds.</summary>
    private static int WriteTimeouts(ScsiCommand c, Span<byte> d)
    {
        d[..TimeoutsLength].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(d, 0x0A);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], c.TimeoutSeconds);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], c.TimeoutSeconds);
        return TimeoutsLength;
    }

    private static void ReportTaskManagementFunctions(ScsiTask task)
    {
        bool extended = (task.Cdb[2] & 0x80) != 0;
        uint allocation = BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[6..]);
        // SPC-4 §6.36: an allocation length under 4 is INVALID FIELD IN CDB.
        if (allocation < 4) { task.CompleteInvalidField(6); return; }
        Span<byte> data = stackalloc byte[16];
        data.Clear();
        foreach (var (_, _, b, mask) in TaskManagementFunctions) data[b] |= mask;
        int length = 4;
        if (extended)
        {
            data[3] = 0x0C; // ADDITIONAL DATA LENGTH of the extended format
            length = 16;
        }
        task.CompleteDataIn(data[..length], allocation);
    }
}
