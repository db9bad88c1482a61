using StorSharp.Scsi;

namespace StorSharp.Nvme;

/// <summary>
/// NVMe completion status to SCSI sense, as the SCSI-to-NVMe translation does (NVM Express SCSI
/// Translation Reference, "NVM Express Status to SCSI Status"). Every status this controller
/// returns has a row; anything else reads as an internal target failure.
/// </summary>
public static class NvmeStatusTranslation
{
    /// <summary>ILLEGAL REQUEST, ACCESS DENIED - INVALID LU IDENTIFIER (20h/09h).</summary>
    public static readonly SenseCode InvalidLuIdentifier = new(SenseKey.IllegalRequest, 0x20, 0x09);

    /// <summary>MEDIUM ERROR, PERIPHERAL DEVICE WRITE FAULT (03h/00h).</summary>
    public static readonly SenseCode PeripheralDeviceWriteFault = new(SenseKey.MediumError, 0x03, 0x00);

    /// <summary>MEDIUM ERROR with no additional sense (00h/00h).</summary>
    public static readonly SenseCode MediumErrorNoSense = new(SenseKey.MediumError, 0x00, 0x00);

    /// <summary>The sense a failed NVMe command reports (never called for success).</summary>
    public static SenseCode ToSense(NvmeStatus status)
    {
        if (status == NvmeStatus.InvalidOpcode) return SenseCodes.InvalidCommandOperationCode;
        if (status == NvmeStatus.InvalidField) return SenseCodes.InvalidFieldInCdb;
        if (status == NvmeStatus.DataTransferError) return MediumErrorNoSense;
        if (status == NvmeStatus.AbortRequested) return SenseCodes.AbortedCommand;
        if (status == NvmeStatus.InvalidNamespaceOrFormat) return InvalidLuIdentifier;
        if (status == NvmeStatus.NamespaceWriteProtected) return SenseCodes.WriteProtected;
        if (status == NvmeStatus.LbaOutOfRange) return SenseCodes.LbaOutOfRange;
        if (status == NvmeStatus.CapacityExceeded) return SenseCodes.SpaceAllocationFailedWriteProtect;
        if (status == NvmeStatus.NamespaceNotReady) return SenseCodes.NotReadyCauseNotReportable;
        if (status == NvmeStatus.WriteFault) return PeripheralDeviceWriteFault;
        if (status == NvmeStatus.UnrecoveredReadError) return SenseCodes.UnrecoveredReadError;
        if (status == NvmeStatus.CompareFailure) return SenseCodes.MiscompareDuringVerify;
        if (status == NvmeStatus.AbortedFailedFused) return SenseCodes.AbortedCommand;
        // Internal Error, PRP Offset Invalid (the miniport built a bad PRP: its own bug) and the rest.
        return SenseCodes.InternalTargetFailure;
    }
}
