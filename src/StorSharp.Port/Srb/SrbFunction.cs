namespace StorSharp.Port;

/// <summary>
/// What an SRB asks the port or miniport to do (Storport <c>SRB_FUNCTION_*</c>).
/// Values match <c>srb.h</c> so traces read the same as on Windows.
/// </summary>
public enum SrbFunction : byte
{
    /// <summary>Run the CDB in <see cref="Srb.Cdb"/> (SRB_FUNCTION_EXECUTE_SCSI).</summary>
    ExecuteScsi = 0x00,
    /// <summary>A miniport-specific control request (SRB_FUNCTION_IO_CONTROL).</summary>
    IoControl = 0x02,
    /// <summary>The system is shutting down: flush and quiesce (SRB_FUNCTION_SHUTDOWN).</summary>
    Shutdown = 0x07,
    /// <summary>Flush any cached data to the medium (SRB_FUNCTION_FLUSH).</summary>
    Flush = 0x08,
    /// <summary>Abort the request named by <see cref="Srb.AbortTarget"/> (SRB_FUNCTION_ABORT_COMMAND).</summary>
    AbortCommand = 0x10,
    /// <summary>Reset every target on a bus (SRB_FUNCTION_RESET_BUS).</summary>
    ResetBus = 0x12,
    /// <summary>Reset one target, every LUN behind it (SRB_FUNCTION_RESET_DEVICE).</summary>
    ResetDevice = 0x13,
    /// <summary>Reset one logical unit (SRB_FUNCTION_RESET_LOGICAL_UNIT).</summary>
    ResetLogicalUnit = 0x20,
    /// <summary>A power transition (SRB_FUNCTION_POWER).</summary>
    Power = 0x24,
    /// <summary>A plug-and-play request (SRB_FUNCTION_PNP).</summary>
    Pnp = 0x25,
}
