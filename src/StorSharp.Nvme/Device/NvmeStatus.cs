namespace StorSharp.Nvme;

/// <summary>NVMe status code types (completion queue entry DW3 bits 27:25).</summary>
public enum NvmeStatusCodeType : byte
{
    /// <summary>Generic command status.</summary>
    Generic = 0,
    /// <summary>Command specific status.</summary>
    CommandSpecific = 1,
    /// <summary>Media and data integrity errors.</summary>
    MediaError = 2,
}

/// <summary>
/// The status field of an NVMe completion queue entry: status code type and status code (NVMe base
/// specification §4.6.1.2, NVM command set §4.1.1). The values used here are listed as fields.
/// </summary>
/// <param name="Type">The status code type.</param>
/// <param name="Code">The status code.</param>
public readonly record struct NvmeStatus(NvmeStatusCodeType Type, byte Code)
{
    /// <summary>Successful Completion (00h/00h).</summary>
    public static readonly NvmeStatus Success = new(NvmeStatusCodeType.Generic, 0x00);
    /// <summary>Invalid Command Opcode (00h/01h).</summary>
    public static readonly NvmeStatus InvalidOpcode = new(NvmeStatusCodeType.Generic, 0x01);
    /// <summary>Invalid Field in Command (00h/02h).</summary>
    public static readonly NvmeStatus InvalidField = new(NvmeStatusCodeType.Generic, 0x02);
    /// <summary>Data Transfer Error (00h/04h): a PRP entry points at memory that is not there.</summary>
    public static readonly NvmeStatus DataTransferError = new(NvmeStatusCodeType.Generic, 0x04);
    /// <summary>Internal Error (00h/06h).</summary>
    public static readonly NvmeStatus InternalError = new(NvmeStatusCodeType.Generic, 0x06);
    /// <summary>Command Abort Requested (00h/07h).</summary>
    public static readonly NvmeStatus AbortRequested = new(NvmeStatusCodeType.Generic, 0x07);
    /// <summary>Command Aborted due to Failed Fused Command (00h/0Ah): the second command of a fused pair whose first failed.</summary>
    public static readonly NvmeStatus AbortedFailedFused = new(NvmeStatusCodeType.Generic, 0x0A);
    /// <summary>Invalid Namespace or Format (00h/0Bh).</summary>
    public static readonly NvmeStatus InvalidNamespaceOrFormat = new(NvmeStatusCodeType.Generic, 0x0B);
    /// <summary>PRP Offset Invalid (00h/13h): an entry after PRP1 has a non-zero offset, or PRP1 is not dword aligned.</summary>
    public static readonly NvmeStatus PrpOffsetInvalid = new(NvmeStatusCodeType.Generic, 0x13);
    /// <summary>Namespace is Write Protected (00h/20h).</summary>
    public static readonly NvmeStatus NamespaceWriteProtected = new(NvmeStatusCodeType.Generic, 0x20);
    /// <summary>LBA Out of Range (00h/80h).</summary>
    public static readonly NvmeStatus LbaOutOfRange = new(NvmeStatusCodeType.Generic, 0x80);
    /// <summary>Capacity Exceeded (00h/81h).</summary>
    public static readonly NvmeStatus CapacityExceeded = new(NvmeStatusCodeType.Generic, 0x81);
    /// <summary>Namespace Not Ready (00h/82h).</summary>
    public static readonly NvmeStatus NamespaceNotReady = new(NvmeStatusCodeType.Generic, 0x82);
    /// <summary>Write Fault (02h/80h).</summary>
    public static readonly NvmeStatus WriteFault = new(NvmeStatusCodeType.MediaError, 0x80);
    /// <summary>Unrecovered Read Error (02h/81h).</summary>
    public static readonly NvmeStatus UnrecoveredReadError = new(NvmeStatusCodeType.MediaError, 0x81);
    /// <summary>Compare Failure (02h/85h): a Compare found the namespace's data different from the host's.</summary>
    public static readonly NvmeStatus CompareFailure = new(NvmeStatusCodeType.MediaError, 0x85);

    /// <summary>True for Successful Completion.</summary>
    public bool IsSuccess => Type == NvmeStatusCodeType.Generic && Code == 0;

    /// <summary><c>SCT/SC</c> in hex, as nvme-cli prints it.</summary>
    public override string ToString() => $"{(byte)Type:X2}h/{Code:X2}h";
}
