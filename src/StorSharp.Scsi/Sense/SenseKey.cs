namespace StorSharp.Scsi;

/// <summary>The sense key: the class of a CHECK CONDITION (SPC-4 §4.5.6, table 27). Values are the wire values.</summary>
public enum SenseKey : byte
{
    /// <summary>NO SENSE: nothing to report.</summary>
    NoSense = 0x0,
    /// <summary>RECOVERED ERROR: the command succeeded after recovery.</summary>
    RecoveredError = 0x1,
    /// <summary>NOT READY: the logical unit cannot be accessed now.</summary>
    NotReady = 0x2,
    /// <summary>MEDIUM ERROR: a non-recoverable error in the medium.</summary>
    MediumError = 0x3,
    /// <summary>HARDWARE ERROR: the device failed.</summary>
    HardwareError = 0x4,
    /// <summary>ILLEGAL REQUEST: something in the CDB or parameter data is wrong.</summary>
    IllegalRequest = 0x5,
    /// <summary>UNIT ATTENTION: something changed that the initiator must hear about.</summary>
    UnitAttention = 0x6,
    /// <summary>DATA PROTECT: the medium is protected against the operation.</summary>
    DataProtect = 0x7,
    /// <summary>BLANK CHECK.</summary>
    BlankCheck = 0x8,
    /// <summary>VENDOR SPECIFIC.</summary>
    VendorSpecific = 0x9,
    /// <summary>COPY ABORTED.</summary>
    CopyAborted = 0xA,
    /// <summary>ABORTED COMMAND: the device server aborted the command; a retry may succeed.</summary>
    AbortedCommand = 0xB,
    /// <summary>VOLUME OVERFLOW.</summary>
    VolumeOverflow = 0xD,
    /// <summary>MISCOMPARE: source data did not match the medium (VERIFY, COMPARE AND WRITE).</summary>
    Miscompare = 0xE,
    /// <summary>COMPLETED.</summary>
    Completed = 0xF,
}
