namespace StorSharp.Scsi;

/// <summary>
/// The sense codes the SCSI emulation reports, by name (SPC-4 annex D, ASC/ASCQ assignments).
/// Use these rather than literal triples so a grep finds every place a condition is raised.
/// </summary>
public static class SenseCodes
{
    /// <summary>NO SENSE, NO ADDITIONAL SENSE INFORMATION (00/00).</summary>
    public static readonly SenseCode NoSense = new(SenseKey.NoSense, 0x00, 0x00);

    /// <summary>NOT READY, LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE (04/00).</summary>
    public static readonly SenseCode NotReadyCauseNotReportable = new(SenseKey.NotReady, 0x04, 0x00);

    /// <summary>NOT READY, LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED (04/02): stopped by START STOP UNIT.</summary>
    public static readonly SenseCode NotReadyInitializingCommandRequired = new(SenseKey.NotReady, 0x04, 0x02);

    /// <summary>NOT READY, LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS (04/1B), with a progress indication.</summary>
    public static readonly SenseCode SanitizeInProgress = new(SenseKey.NotReady, 0x04, 0x1B);

    /// <summary>MEDIUM ERROR, SANITIZE COMMAND FAILED (31/03): a sanitize operation failed; the LU stays in sanitize failure mode.</summary>
    public static readonly SenseCode SanitizeCommandFailed = new(SenseKey.MediumError, 0x31, 0x03);

    /// <summary>NOT READY, MEDIUM NOT PRESENT (3A/00).</summary>
    public static readonly SenseCode MediumNotPresent = new(SenseKey.NotReady, 0x3A, 0x00);

    /// <summary>NOT READY, MEDIUM NOT PRESENT - TRAY CLOSED (3A/01).</summary>
    public static readonly SenseCode MediumNotPresentTrayClosed = new(SenseKey.NotReady, 0x3A, 0x01);

    /// <summary>NOT READY, MEDIUM NOT PRESENT - TRAY OPEN (3A/02).</summary>
    public static readonly SenseCode MediumNotPresentTrayOpen = new(SenseKey.NotReady, 0x3A, 0x02);

    /// <summary>MEDIUM ERROR, WRITE ERROR (0C/00).</summary>
    public static readonly SenseCode WriteError = new(SenseKey.MediumError, 0x0C, 0x00);

    /// <summary>MEDIUM ERROR, UNRECOVERED READ ERROR (11/00).</summary>
    public static readonly SenseCode UnrecoveredReadError = new(SenseKey.MediumError, 0x11, 0x00);

    /// <summary>MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION (1D/00).</summary>
    public static readonly SenseCode MiscompareDuringVerify = new(SenseKey.Miscompare, 0x1D, 0x00);

    /// <summary>ILLEGAL REQUEST, PARAMETER LIST LENGTH ERROR (1A/00).</summary>
    public static readonly SenseCode ParameterListLengthError = new(SenseKey.IllegalRequest, 0x1A, 0x00);

    /// <summary>ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (20/00).</summary>
    public static readonly SenseCode InvalidCommandOperationCode = new(SenseKey.IllegalRequest, 0x20, 0x00);

    /// <summary>ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE (21/00).</summary>
    public static readonly SenseCode LbaOutOfRange = new(SenseKey.IllegalRequest, 0x21, 0x00);

    /// <summary>ILLEGAL REQUEST, INVALID FIELD IN CDB (24/00).</summary>
    public static readonly SenseCode InvalidFieldInCdb = new(SenseKey.IllegalRequest, 0x24, 0x00);

    /// <summary>ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED (25/00).</summary>
    public static readonly SenseCode LogicalUnitNotSupported = new(SenseKey.IllegalRequest, 0x25, 0x00);

    /// <summary>ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST (26/00).</summary>
    public static readonly SenseCode InvalidFieldInParameterList = new(SenseKey.IllegalRequest, 0x26, 0x00);

    /// <summary>ILLEGAL REQUEST, INVALID RELEASE OF PERSISTENT RESERVATION (26h/04h): RELEASE by the holder with another type or scope (SPC-4 §5.12.11.2).</summary>
    public static readonly SenseCode InvalidReleaseOfPersistentReservation = new(SenseKey.IllegalRequest, 0x26, 0x04);

    /// <summary>ILLEGAL REQUEST, SAVING PARAMETERS NOT SUPPORTED (39/00).</summary>
    public static readonly SenseCode SavingParametersNotSupported = new(SenseKey.IllegalRequest, 0x39, 0x00);

    /// <summary>ILLEGAL REQUEST, INVALID FIELD IN INFORMATION UNIT (0E/03).</summary>
    public static readonly SenseCode InvalidFieldInInformationUnit = new(SenseKey.IllegalRequest, 0x0E, 0x03);

    /// <summary>ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED (53/02).</summary>
    public static readonly SenseCode MediumRemovalPrevented = new(SenseKey.IllegalRequest, 0x53, 0x02);

    /// <summary>ILLEGAL REQUEST, INSUFFICIENT REGISTRATION RESOURCES (55/04).</summary>
    public static readonly SenseCode InsufficientRegistrationResources = new(SenseKey.IllegalRequest, 0x55, 0x04);

    /// <summary>ILLEGAL REQUEST, CANNOT READ MEDIUM - INCOMPATIBLE FORMAT (30/02): a CD command (READ CD) on other media (MMC-6).</summary>
    public static readonly SenseCode CannotReadMediumIncompatibleFormat = new(SenseKey.IllegalRequest, 0x30, 0x02);

    /// <summary>ILLEGAL REQUEST, ILLEGAL MODE FOR THIS TRACK (64/00): a READ CD sector type the track does not have (MMC-6).</summary>
    public static readonly SenseCode IllegalModeForThisTrack = new(SenseKey.IllegalRequest, 0x64, 0x00);

    /// <summary>DATA PROTECT, WRITE PROTECTED (27/00).</summary>
    public static readonly SenseCode WriteProtected = new(SenseKey.DataProtect, 0x27, 0x00);

    /// <summary>DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (27/07): thin provisioning ran out of space.</summary>
    public static readonly SenseCode SpaceAllocationFailedWriteProtect = new(SenseKey.DataProtect, 0x27, 0x07);

    /// <summary>UNIT ATTENTION, POWER ON, RESET, OR BUS DEVICE RESET OCCURRED (29/00).</summary>
    public static readonly SenseCode PowerOnReset = new(SenseKey.UnitAttention, 0x29, 0x00);

    /// <summary>UNIT ATTENTION, SCSI BUS RESET OCCURRED (29/02).</summary>
    public static readonly SenseCode BusReset = new(SenseKey.UnitAttention, 0x29, 0x02);

    /// <summary>UNIT ATTENTION, BUS DEVICE RESET FUNCTION OCCURRED (29/03): a LOGICAL UNIT RESET or target reset.</summary>
    public static readonly SenseCode BusDeviceResetFunctionOccurred = new(SenseKey.UnitAttention, 0x29, 0x03);

    /// <summary>UNIT ATTENTION, I_T NEXUS LOSS OCCURRED (29/07).</summary>
    public static readonly SenseCode ItNexusLossOccurred = new(SenseKey.UnitAttention, 0x29, 0x07);

    /// <summary>UNIT ATTENTION, MODE PARAMETERS CHANGED (2A/01).</summary>
    public static readonly SenseCode ModeParametersChanged = new(SenseKey.UnitAttention, 0x2A, 0x01);

    /// <summary>UNIT ATTENTION, RESERVATIONS PREEMPTED (2A/03).</summary>
    public static readonly SenseCode ReservationsPreempted = new(SenseKey.UnitAttention, 0x2A, 0x03);

    /// <summary>UNIT ATTENTION, RESERVATIONS RELEASED (2A/04).</summary>
    public static readonly SenseCode ReservationsReleased = new(SenseKey.UnitAttention, 0x2A, 0x04);

    /// <summary>UNIT ATTENTION, REGISTRATIONS PREEMPTED (2A/05).</summary>
    public static readonly SenseCode RegistrationsPreempted = new(SenseKey.UnitAttention, 0x2A, 0x05);

    /// <summary>UNIT ATTENTION, CAPACITY DATA HAS CHANGED (2A/09).</summary>
    public static readonly SenseCode CapacityDataHasChanged = new(SenseKey.UnitAttention, 0x2A, 0x09);

    /// <summary>UNIT ATTENTION, NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED (28/00).</summary>
    public static readonly SenseCode NotReadyToReadyChange = new(SenseKey.UnitAttention, 0x28, 0x00);

    /// <summary>UNIT ATTENTION, REPORTED LUNS DATA HAS CHANGED (3F/0E).</summary>
    public static readonly SenseCode ReportedLunsDataHasChanged = new(SenseKey.UnitAttention, 0x3F, 0x0E);

    /// <summary>UNIT ATTENTION, INQUIRY DATA HAS CHANGED (3F/03).</summary>
    public static readonly SenseCode InquiryDataHasChanged = new(SenseKey.UnitAttention, 0x3F, 0x03);

    /// <summary>HARDWARE ERROR, INTERNAL TARGET FAILURE (44/00).</summary>
    public static readonly SenseCode InternalTargetFailure = new(SenseKey.HardwareError, 0x44, 0x00);

    /// <summary>ABORTED COMMAND, NO ADDITIONAL SENSE INFORMATION (0B/00/00).</summary>
    public static readonly SenseCode AbortedCommand = new(SenseKey.AbortedCommand, 0x00, 0x00);

    /// <summary>ABORTED COMMAND, COMMANDS CLEARED BY ANOTHER INITIATOR (2F/00).</summary>
    public static readonly SenseCode CommandsClearedByAnotherInitiator = new(SenseKey.AbortedCommand, 0x2F, 0x00);

    /// <summary>COPY ABORTED, UNREACHABLE COPY TARGET (08h/04h): a CSCD descriptor names no LU the copy manager can reach.</summary>
    public static readonly SenseCode UnreachableCopyTarget = new(SenseKey.CopyAborted, 0x08, 0x04);

    /// <summary>COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE (0Dh/02h): a segment's blocks lie outside its copy source or destination.</summary>
    public static readonly SenseCode CopyTargetDeviceNotReachable = new(SenseKey.CopyAborted, 0x0D, 0x02);

    /// <summary>COPY ABORTED with no additional sense (the copy was aborted or failed on the block device).</summary>
    public static readonly SenseCode CopyAborted = new(SenseKey.CopyAborted, 0x00, 0x00);

    /// <summary>ILLEGAL REQUEST, TOO MANY TARGET DESCRIPTORS (26h/06h).</summary>
    public static readonly SenseCode TooManyTargetDescriptors = new(SenseKey.IllegalRequest, 0x26, 0x06);

    /// <summary>ILLEGAL REQUEST, UNSUPPORTED TARGET DESCRIPTOR TYPE CODE (26h/07h).</summary>
    public static readonly SenseCode UnsupportedTargetDescriptorTypeCode = new(SenseKey.IllegalRequest, 0x26, 0x07);

    /// <summary>ILLEGAL REQUEST, TOO MANY SEGMENT DESCRIPTORS (26h/08h).</summary>
    public static readonly SenseCode TooManySegmentDescriptors = new(SenseKey.IllegalRequest, 0x26, 0x08);

    /// <summary>ILLEGAL REQUEST, UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE (26h/09h).</summary>
    public static readonly SenseCode UnsupportedSegmentDescriptorTypeCode = new(SenseKey.IllegalRequest, 0x26, 0x09);

    /// <summary>ILLEGAL REQUEST, UNEXPECTED INEXACT SEGMENT (26h/0Ah).</summary>
    public static readonly SenseCode UnexpectedInexactSegment = new(SenseKey.IllegalRequest, 0x26, 0x0A);

    /// <summary>ILLEGAL REQUEST, INLINE DATA LENGTH EXCEEDED (26h/0Bh).</summary>
    public static readonly SenseCode InlineDataLengthExceeded = new(SenseKey.IllegalRequest, 0x26, 0x0B);

    /// <summary>ILLEGAL REQUEST, OPERATION IN PROGRESS (00h/16h): an EXTENDED COPY with this list identifier is still running.</summary>
    public static readonly SenseCode OperationInProgress = new(SenseKey.IllegalRequest, 0x00, 0x16);

    /// <summary>ILLEGAL REQUEST, INSUFFICIENT RESOURCES (55h/03h).</summary>
    public static readonly SenseCode InsufficientResources = new(SenseKey.IllegalRequest, 0x55, 0x03);
}
