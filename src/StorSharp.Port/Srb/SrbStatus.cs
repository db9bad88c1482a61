namespace StorSharp.Port;

/// <summary>
/// The outcome of an SRB (Storport <c>SRB_STATUS_*</c>, the low six bits of <c>SrbStatus</c>).
/// Values match <c>srb.h</c>. The two high flag bits live in <see cref="SrbStatusFlags"/>.
/// </summary>
public enum SrbStatus : byte
{
    /// <summary>Still in progress (SRB_STATUS_PENDING).</summary>
    Pending = 0x00,
    /// <summary>Completed successfully (SRB_STATUS_SUCCESS).</summary>
    Success = 0x01,
    /// <summary>Aborted at the host's request (SRB_STATUS_ABORTED).</summary>
    Aborted = 0x02,
    /// <summary>An abort request could not be carried out (SRB_STATUS_ABORT_FAILED).</summary>
    AbortFailed = 0x03,
    /// <summary>Failed; when <see cref="Srb.ScsiStatus"/> is not GOOD the status is always this (SRB_STATUS_ERROR).</summary>
    Error = 0x04,
    /// <summary>The device is busy: the port pauses and retries (SRB_STATUS_BUSY).</summary>
    Busy = 0x05,
    /// <summary>The request is not valid for this device (SRB_STATUS_INVALID_REQUEST).</summary>
    InvalidRequest = 0x06,
    /// <summary>No such bus (SRB_STATUS_INVALID_PATH_ID).</summary>
    InvalidPathId = 0x07,
    /// <summary>No device at that address (SRB_STATUS_NO_DEVICE).</summary>
    NoDevice = 0x08,
    /// <summary>The miniport timed the request out (SRB_STATUS_TIMEOUT): event 153 and a class retry.</summary>
    Timeout = 0x09,
    /// <summary>The target did not respond to selection (SRB_STATUS_SELECTION_TIMEOUT).</summary>
    SelectionTimeout = 0x0A,
    /// <summary>The miniport's command timer expired (SRB_STATUS_COMMAND_TIMEOUT): event 153 and a class retry.</summary>
    CommandTimeout = 0x0B,
    /// <summary>A bus or device reset ended the request (SRB_STATUS_BUS_RESET).</summary>
    BusReset = 0x0E,
    /// <summary>A parity error on the bus (SRB_STATUS_PARITY_ERROR).</summary>
    ParityError = 0x0F,
    /// <summary>No host bus adapter (SRB_STATUS_NO_HBA).</summary>
    NoHba = 0x11,
    /// <summary>Data overrun or underrun: fewer or more bytes moved than asked (SRB_STATUS_DATA_OVERRUN).</summary>
    DataOverrun = 0x12,
    /// <summary>Flushed from the queue before it ran (SRB_STATUS_REQUEST_FLUSHED).</summary>
    RequestFlushed = 0x16,
    /// <summary>No such logical unit (SRB_STATUS_INVALID_LUN).</summary>
    InvalidLun = 0x20,
    /// <summary>No such target (SRB_STATUS_INVALID_TARGET_ID).</summary>
    InvalidTargetId = 0x21,
    /// <summary>The SRB function is not supported (SRB_STATUS_BAD_FUNCTION).</summary>
    BadFunction = 0x22,
    /// <summary>The device is powered down (SRB_STATUS_NOT_POWERED).</summary>
    NotPowered = 0x24,
    /// <summary>The link stayed down past LinkDownTimeout (SRB_STATUS_LINK_DOWN).</summary>
    LinkDown = 0x25,
    /// <summary>Out of resources (SRB_STATUS_INSUFFICIENT_RESOURCES).</summary>
    InsufficientResources = 0x26,
    /// <summary>The port itself failed; never set by a miniport (SRB_STATUS_INTERNAL_ERROR).</summary>
    InternalError = 0x30,
}

/// <summary>The flag bits Storport ORs into <c>SrbStatus</c>.</summary>
[Flags]
public enum SrbStatusFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>The LU queue was frozen after this error (SRB_STATUS_QUEUE_FROZEN).</summary>
    QueueFrozen = 0x40,
    /// <summary>The sense buffer holds valid sense data (SRB_STATUS_AUTOSENSE_VALID).</summary>
    AutosenseValid = 0x80,
}
