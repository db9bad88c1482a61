using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>TEST UNIT READY (SPC-4 §6.47) and REQUEST SENSE (SPC-4 §6.29).</summary>
internal static class StatusCommands
{
    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.TestUnitReady, "TEST UNIT READY", DataDirection.None,
            [ScsiOpcodes.TestUnitReady, 0x00, 0x00, 0x00, 0x00, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.NeedsMedium, TestUnitReady),
        Row(ScsiOpcodes.RequestSense, "REQUEST SENSE", DataDirection.In,
            [ScsiOpcodes.RequestSense, 0x01, 0x00, 0x00, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.IgnoresUnitAttention | ScsiCommandFlags.AnswersForAbsentUnit, RequestSense),
    ];

    private static void TestUnitReady(ScsiTask task) => task.CompleteGood();

    /// <summary>
    /// Returns a pending unit attention, else the sense data pending for this I_T nexus, else NO SENSE, in the format the DESC bit
    /// asks for. With autosense (every StorSharp front end) errors travel with their status, so
    /// what is pending here is sense that had no room in its request.
    /// </summary>
    private static void RequestSense(ScsiTask task)
    {
        bool descriptor = (task.Cdb[1] & 0x01) != 0;
        int allocation = task.Cdb[4];
        Span<byte> sense = stackalloc byte[SenseData.MaxLength];
        int n;
        if (!task.Unit.Present)
        {
            // SPC-4 §6.29: to a LUN that is not there, REQUEST SENSE returns GOOD with LOGICAL UNIT NOT SUPPORTED.
            n = SenseData.Write(sense, descriptor, SenseCodes.LogicalUnitNotSupported);
        }
        else if (task.Nexus?.Take() is { } attention)
        {
            // SPC-4 §6.29: a pending unit attention is returned (and cleared) as the sense data.
            n = SenseData.Write(sense, descriptor, attention);
        }
        else if (task.Unit.Sanitizing is { } sanitize)
        {
            // SPC-4 §6.29 / SBC-4 §4.11.2: during a sanitize, the progress of the operation.
            n = SenseData.Write(sense, descriptor, SenseCodes.SanitizeInProgress, SenseKeySpecific.Progress(sanitize.Progress));
        }
        else if (task.Unit.TakePendingSense(task.Srb.Nexus) is { } pending && SenseData.TryParse(pending, out var info))
        {
            n = SenseData.Write(sense, descriptor, info.Code, info.Specific, info.InformationValid ? info.Information : null);
        }
        else
        {
            n = SenseData.Write(sense, descriptor, SenseCodes.NoSense);
        }
        task.CompleteDataIn(sense[..n], allocation);
    }
}
