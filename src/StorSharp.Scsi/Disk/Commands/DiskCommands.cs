using StorSharp.Port;

namespace StorSharp.Scsi;

/// <summary>
/// The SCSI disk's opcode table: the rows of every command family, gathered in one place.
/// Each family file declares its own rows next to its handlers.
/// </summary>
internal static class DiskCommands
{
    public static ScsiCommandTable Table { get; } = new(
    [
        .. StatusCommands.Rows,
        .. InquiryCommand.Rows,
        .. CapacityCommands.Rows,
        .. ReadWriteCommands.Rows,
        .. CacheCommands.Rows,
        .. ReportLunsCommand.Rows,
        .. ModeCommands.Rows,
        .. ReportSupportedCommands.Rows,
        .. ProvisioningCommands.Rows,
        .. VerifyCommands.Rows,
        .. AtomicWriteCommands.Rows,
        .. MediumCommands.Rows,
        .. ReserveReleaseCommands.Rows,
        .. PersistentReserveCommands.Rows,
        .. SanitizeCommands.Rows,
        .. ExtendedCopyCommands.Rows,
    ]);

    /// <summary>Shorthand for a row.</summary>
    public static ScsiCommand Row(byte opcode, string name, DataDirection direction, byte[] usage, ReservationAccess reservation,
        ScsiCommandFlags flags, ScsiCommandHandler handler, byte? serviceAction = null, Func<DiskUnit, bool>? availableOn = null, uint timeoutSeconds = 30) =>
        new(opcode, serviceAction, name, direction, usage, reservation, flags, handler, timeoutSeconds, availableOn);

    /// <summary>Thin-provisioning commands exist only on thin LUs (LBPME = 1).</summary>
    public static bool Thin(DiskUnit unit) => unit.ThinProvisioned;
}
