namespace StorSharp.Port;

/// <summary>The SCSI status byte a device returns (SAM-5 §5.3). Values are the wire values.</summary>
public enum ScsiStatus : byte
{
    /// <summary>GOOD.</summary>
    Good = 0x00,
    /// <summary>CHECK CONDITION: sense data describes the error.</summary>
    CheckCondition = 0x02,
    /// <summary>CONDITION MET (PRE-FETCH).</summary>
    ConditionMet = 0x04,
    /// <summary>BUSY: the device cannot accept the command now.</summary>
    Busy = 0x08,
    /// <summary>RESERVATION CONFLICT.</summary>
    ReservationConflict = 0x18,
    /// <summary>TASK SET FULL, also called QUEUE FULL: the port holds I/O until some complete.</summary>
    TaskSetFull = 0x28,
    /// <summary>ACA ACTIVE.</summary>
    AcaActive = 0x30,
    /// <summary>TASK ABORTED.</summary>
    TaskAborted = 0x40,
}
