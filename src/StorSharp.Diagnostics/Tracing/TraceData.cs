using StorSharp.Port;

namespace StorSharp.Diagnostics.Tracing;

/// <summary>One request of a trace, with its five stage durations (100 ns units).</summary>
/// <param name="Adapter">The adapter's number.</param>
/// <param name="Address">Bus, target and LUN.</param>
/// <param name="OperationCode">The CDB's operation code (0 for a non-SCSI function).</param>
/// <param name="Function">The SRB function.</param>
/// <param name="RawSrbStatus">SrbStatus with its flag bits.</param>
/// <param name="ScsiStatus">The SCSI status byte.</param>
/// <param name="Flags"><see cref="TraceFormat"/> flags.</param>
/// <param name="BusyRetries">Times it went back in the queue after BUSY or QUEUE FULL.</param>
/// <param name="ClassRetries">Times the class layer retried it.</param>
/// <param name="Bytes">Bytes moved.</param>
/// <param name="Tag">The low 32 bits of the submitter's request id (iSCSI ITT, NBD cookie).</param>
/// <param name="Received">When the front end received it (or the port queued it), 100 ns since the trace started.</param>
/// <param name="FrontEnd">Received to queued in the port.</param>
/// <param name="Queue">Queued to StartIo.</param>
/// <param name="Service">StartIo to the backend call's return (to completion when the miniport does not mark it).</param>
/// <param name="Completion">Backend done to the port's completion.</param>
/// <param name="Reply">Completion to the reply being sent.</param>
public readonly record struct TraceRequest(
    int Adapter, ScsiAddress Address, byte OperationCode, SrbFunction Function, byte RawSrbStatus, byte ScsiStatus, byte Flags,
    int BusyRetries, int ClassRetries, uint Bytes, uint Tag, long Received,
    uint FrontEnd, uint Queue, uint Service, uint Completion, uint Reply)
{
    /// <summary>Received to reply sent: the sum of the five stages.</summary>
    public long Total => (long)FrontEnd + Queue + Service + Completion + Reply;

    /// <summary>Queued to completed: the latency the port's performance summary (505) counts.</summary>
    public long PortLatency => (long)Queue + Service + Completion;

    /// <summary>When the port queued it.</summary>
    public long Queued => Received + FrontEnd;

    /// <summary>When the port completed it.</summary>
    public long Completed => Received + FrontEnd + Queue + Service + Completion;

    /// <summary>When the reply went out (the end of the request).</summary>
    public long End => Received + Total;

    /// <summary>True when it succeeded as the performance summary counts it (<see cref="LogicalUnitPerformance.CountsAsSuccess"/>).</summary>
    public bool IsSuccess => LogicalUnitPerformance.CountsAsSuccess((SrbStatus)(RawSrbStatus & 0x3F), (ScsiStatus)ScsiStatus);

    /// <summary>Read, write, flush, unmap or other.</summary>
    public OperationClass Kind => Function == SrbFunction.ExecuteScsi ? OperationClassifier.Classify(OperationCode) :
        Function is SrbFunction.Flush or SrbFunction.Shutdown ? OperationClass.Flush : OperationClass.Other;
}

/// <summary>A port event in a trace (129, 153, resets, link down and up, ...).</summary>
/// <param name="Id">The event id.</param>
/// <param name="Level">How serious.</param>
/// <param name="Time">100 ns since the trace started.</param>
/// <param name="Device">The device it is about.</param>
/// <param name="Message">Its text.</param>
public sealed record TraceEvent(int Id, Port.EventLevel Level, long Time, string Device, string Message);

/// <summary>A BUSY or QUEUE FULL answer in a trace.</summary>
/// <param name="Adapter">The adapter's number.</param>
/// <param name="Address">The LU.</param>
/// <param name="QueueFull">QUEUE FULL rather than BUSY.</param>
/// <param name="Retry">The request's retry number.</param>
/// <param name="Time">100 ns since the trace started.</param>
public readonly record struct TraceBusy(int Adapter, ScsiAddress Address, bool QueueFull, int Retry, long Time);

/// <summary>Everything read from a trace file.</summary>
/// <param name="StartUtc">When the trace started.</param>
/// <param name="Requests">The requests, in the order they finished.</param>
/// <param name="Events">The port events.</param>
/// <param name="Busy">The BUSY answers.</param>
/// <param name="Units">The LUs' names, by adapter and address.</param>
/// <param name="DroppedRequests">Requests the recorder dropped (buffers full or size limit).</param>
/// <param name="DroppedEvents">Events and BUSY records it dropped.</param>
/// <param name="Truncated">True when the file ended in the middle of a record (the process was killed); what came before is intact.</param>
public sealed record TraceData(
    DateTimeOffset StartUtc,
    IReadOnlyList<TraceRequest> Requests,
    IReadOnlyList<TraceEvent> Events,
    IReadOnlyList<TraceBusy> Busy,
    IReadOnlyDictionary<(int Adapter, ScsiAddress Address), string> Units,
    long DroppedRequests,
    long DroppedEvents,
    bool Truncated)
{
    /// <summary>The name of an LU: the recorded one, else <c>RaidPortN b:t:l</c>.</summary>
    public string UnitName(int adapter, ScsiAddress address) =>
        Units.TryGetValue((adapter, address), out var name) ? name : $"RaidPort{adapter} {address}";
}
