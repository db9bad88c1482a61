namespace StorSharp.Port;

/// <summary>What a fault rule does to a request it matches (the fault-injection filter's vocabulary).</summary>
public enum FaultKind
{
    /// <summary>Hold the request for a fixed or random time, then pass it on to the miniport.</summary>
    Delay,
    /// <summary>Complete the request with CHECK CONDITION and the rule's sense key, ASC and ASCQ.</summary>
    Error,
    /// <summary>Complete the request with SRB_STATUS_BUSY: the port pauses <see cref="PortTunables.BusyPauseTime"/> and retries it.</summary>
    Busy,
    /// <summary>Complete the request with SCSI status TASK SET FULL (QUEUE FULL): the port waits for <see cref="PortTunables.QueueFullWaitIoPercentage"/> of the outstanding I/O, then retries it.</summary>
    QueueFull,
    /// <summary>Never complete the request: the LU timer expires, the port logs event 129 and resets the LU, and the reset releases it.</summary>
    Stall,
    /// <summary>The miniport timed the request out itself: SRB_STATUS_TIMEOUT (the class layer logs event 153 and retries it).</summary>
    Timeout,
    /// <summary>The miniport timed the command out: SRB_STATUS_COMMAND_TIMEOUT (event 153 and a class retry).</summary>
    CommandTimeout,
}

/// <summary>The kinds of request a fault rule applies to.</summary>
[Flags]
public enum FaultOperations
{
    /// <summary>No request.</summary>
    None = 0,
    /// <summary>READ(6/10/12/16), and the reading half of COMPARE AND WRITE is not counted here.</summary>
    Read = 1,
    /// <summary>WRITE(6/10/12/16), WRITE AND VERIFY, WRITE SAME, COMPARE AND WRITE, WRITE ATOMIC.</summary>
    Write = 2,
    /// <summary>SYNCHRONIZE CACHE(10/16) and SRB_FUNCTION_FLUSH.</summary>
    Flush = 4,
    /// <summary>UNMAP.</summary>
    Unmap = 8,
    /// <summary>Every other command (INQUIRY, TEST UNIT READY, MODE SENSE...). Not in the default set, so enumeration keeps working.</summary>
    Other = 16,
    /// <summary>The default set: reads, writes, flushes and unmaps.</summary>
    Media = Read | Write | Flush | Unmap,
    /// <summary>Every request.</summary>
    All = Media | Other,
}
