using System.Diagnostics.Tracing;
using TraceLevel = System.Diagnostics.Tracing.EventLevel;

namespace StorSharp.Port;

/// <summary>
/// The port's EventSource, provider <c>StorSharp-Port</c>: one event per request stage (received,
/// queued, started, backend done, completed, reply sent), BUSY answers, the event log's entries,
/// and the performance summaries (505) and first errors (549). Collect it with
/// <c>dotnet-trace collect -p PID --providers StorSharp-Port:0xF:5</c>.
/// </summary>
/// <remarks>
/// Nothing is written (and no argument is formatted) unless a session enabled the provider: every
/// call site checks <see cref="EventSource.IsEnabled()"/> first, and the per-request events go
/// through <see cref="EventSource.WriteEventCore"/> with stack-allocated data, so even an enabled
/// provider allocates nothing per request. Addresses are packed as <c>adapter &lt;&lt; 24 | path
/// &lt;&lt; 16 | target &lt;&lt; 8 | lun</c>; times inside events are microseconds.
/// </remarks>
[EventSource(Name = "StorSharp-Port")]
public sealed class PortEventSource : EventSource
{
    /// <summary>The provider's one instance.</summary>
    public static readonly PortEventSource Log = new();

    private PortEventSource() : base(EventSourceSettings.EtwSelfDescribingEventFormat) { }

    /// <summary>The provider's keywords (bit masks for <c>--providers StorSharp-Port:KEYWORDS</c>).</summary>
    public static class Keywords
    {
        /// <summary>0x1: one event per request stage.</summary>
        public const EventKeywords IO = (EventKeywords)0x1;
        /// <summary>0x2: performance summaries (505), first errors (549) and BUSY answers.</summary>
        public const EventKeywords Performance = (EventKeywords)0x2;
        /// <summary>0x4: adapters started and stopped, LUs added and removed.</summary>
        public const EventKeywords Enumeration = (EventKeywords)0x4;
        /// <summary>0x8: timeouts (129), resets, retries (153), link events, contract violations.</summary>
        public const EventKeywords Errors = (EventKeywords)0x8;
    }

    /// <summary>Event ids.</summary>
    public static class Ids
    {
        /// <summary>The front end received the request.</summary>
        public const int Received = 1;
        /// <summary>The port accepted and queued the request.</summary>
        public const int Queued = 2;
        /// <summary>The miniport's StartIo was called.</summary>
        public const int Started = 3;
        /// <summary>The miniport's backend call returned.</summary>
        public const int BackendDone = 4;
        /// <summary>The port handed the request back to its submitter.</summary>
        public const int Completed = 5;
        /// <summary>The front end sent the reply.</summary>
        public const int ReplySent = 6;
        /// <summary>The miniport answered BUSY or QUEUE FULL and the request went back in the queue.</summary>
        public const int Busy = 7;
        /// <summary>An event-log entry about errors and recovery (129, 153, resets, link, contract).</summary>
        public const int PortEvent = 10;
        /// <summary>An event-log entry about enumeration (adapters, LUs).</summary>
        public const int EnumerationEvent = 11;
        /// <summary>A performance summary (Storport event 505).</summary>
        public const int PerformanceSummary = 505;
        /// <summary>The first error of an interval (Storport event 549).</summary>
        public const int FirstError = 549;
    }

    /// <summary>True when a session asked for the per-request events.</summary>
    [NonEvent]
    public bool IsIoEnabled() => IsEnabled() && IsEnabled(TraceLevel.Verbose, Keywords.IO);

    /// <summary>The front end received the request.</summary>
    [Event(Ids.Received, Level = TraceLevel.Verbose, Keywords = Keywords.IO, Message = "Request {1:X} received on {0:X8}, opcode {2}")]
    public void Received(long Address, long Tag, long Opcode) => Write3(Ids.Received, Address, Tag, Opcode);

    /// <summary>The port queued the request.</summary>
    [Event(Ids.Queued, Level = TraceLevel.Verbose, Keywords = Keywords.IO, Message = "Request {1:X} queued on {0:X8}, opcode {2}")]
    public void Queued(long Address, long Tag, long Opcode) => Write3(Ids.Queued, Address, Tag, Opcode);

    /// <summary>StartIo was called; <paramref name="QueuedMicroseconds"/> since it was queued.</summary>
    [Event(Ids.Started, Level = TraceLevel.Verbose, Keywords = Keywords.IO, Message = "Request {1:X} started on {0:X8} after {2} us queued")]
    public void Started(long Address, long Tag, long QueuedMicroseconds) => Write3(Ids.Started, Address, Tag, QueuedMicroseconds);

    /// <summary>The backend call returned; <paramref name="ServiceMicroseconds"/> since StartIo.</summary>
    [Event(Ids.BackendDone, Level = TraceLevel.Verbose, Keywords = Keywords.IO, Message = "Request {1:X} backend done on {0:X8} after {2} us in the miniport")]
    public void BackendDone(long Address, long Tag, long ServiceMicroseconds) => Write3(Ids.BackendDone, Address, Tag, ServiceMicroseconds);

    /// <summary>The port completed the request.</summary>
    [Event(Ids.Completed, Level = TraceLevel.Verbose, Keywords = Keywords.IO, Message = "Request {1:X} completed on {0:X8}: opcode {2}, SrbStatus {3}, ScsiStatus {4}, {5} bytes, {6} us")]
    public void Completed(long Address, long Tag, long Opcode, long SrbStatus, long ScsiStatus, long Bytes, long LatencyMicroseconds) =>
        Write7(Ids.Completed, Address, Tag, Opcode, SrbStatus, ScsiStatus, Bytes, LatencyMicroseconds);

    /// <summary>The front end sent the reply; <paramref name="TotalMicroseconds"/> since it was received.</summary>
    [Event(Ids.ReplySent, Level = TraceLevel.Verbose, Keywords = Keywords.IO, Message = "Request {1:X} answered on {0:X8} after {2} us in all")]
    public void ReplySent(long Address, long Tag, long TotalMicroseconds) => Write3(Ids.ReplySent, Address, Tag, TotalMicroseconds);

    /// <summary>BUSY (<paramref name="QueueFull"/> 0) or QUEUE FULL (1) from the miniport; the request waits and starts again.</summary>
    [Event(Ids.Busy, Level = TraceLevel.Informational, Keywords = Keywords.Performance, Message = "Request {1:X} on {0:X8} answered BUSY (queue full: {2}), retry {3}")]
    public void Busy(long Address, long Tag, long QueueFull, long Retry) => Write4(Ids.Busy, Address, Tag, QueueFull, Retry);

    /// <summary>An event-log entry about errors and recovery.</summary>
    [Event(Ids.PortEvent, Level = TraceLevel.Warning, Keywords = Keywords.Errors, Message = "Event {0} on {2}: {3}")]
    public void PortEvent(int Id, int Level, string Device, string Message) => WriteEvent(Ids.PortEvent, Id, Level, Device, Message);

    /// <summary>An event-log entry about enumeration.</summary>
    [Event(Ids.EnumerationEvent, Level = TraceLevel.Informational, Keywords = Keywords.Enumeration, Message = "Event {0} on {2}: {3}")]
    public void EnumerationEvent(int Id, int Level, string Device, string Message) => WriteEvent(Ids.EnumerationEvent, Id, Level, Device, Message);

    /// <summary>A performance summary (505); the histograms are comma-separated lists of 14 numbers.</summary>
    [Event(Ids.PerformanceSummary, Level = TraceLevel.Informational, Keywords = Keywords.Performance, Message = "Performance summary for {0}: {1} requests")]
    public void PerformanceSummary(string Device, long TotalIo, string SuccessCounts, string FailureCounts, string TotalLatencyMicroseconds,
        long BytesRead, long BytesWritten, long MaxReadMicroseconds, long MaxWriteMicroseconds, long MaxFlushMicroseconds, long MaxUnmapMicroseconds) =>
        WriteEvent(Ids.PerformanceSummary, Device, TotalIo, SuccessCounts, FailureCounts, TotalLatencyMicroseconds,
            BytesRead, BytesWritten, MaxReadMicroseconds, MaxWriteMicroseconds, MaxFlushMicroseconds, MaxUnmapMicroseconds);

    /// <summary>The first error of an interval (549).</summary>
    [Event(Ids.FirstError, Level = TraceLevel.Warning, Keywords = Keywords.Performance, Message = "First error on {0}: opcode {1}, SrbStatus {2}, ScsiStatus {3}, sense {4}/{5}/{6}, {7} us")]
    public void FirstError(string Device, int Opcode, int SrbStatus, int ScsiStatus, int SenseKey, int Asc, int Ascq, long LatencyMicroseconds) =>
        WriteEvent(Ids.FirstError, Device, Opcode, SrbStatus, ScsiStatus, SenseKey, Asc, Ascq, LatencyMicroseconds);

    [NonEvent]
    private unsafe void Write3(int id, long a, long b, long c)
    {
        long* values = stackalloc long[3] { a, b, c };
        WriteLongs(id, values, 3);
    }

    [NonEvent]
    private unsafe void Write4(int id, long a, long b, long c, long d)
    {
        long* values = stackalloc long[4] { a, b, c, d };
        WriteLongs(id, values, 4);
    }

    [NonEvent]
    private unsafe void Write7(int id, long a, long b, long c, long d, long e, long f, long g)
    {
        long* values = stackalloc long[7] { a, b, c, d, e, f, g };
        WriteLongs(id, values, 7);
    }

    [NonEvent]
    private unsafe void WriteLongs(int id, long* values, int count)
    {
        EventData* data = stackalloc EventData[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = default;
            data[i].DataPointer = (IntPtr)(values + i);
            data[i].Size = sizeof(long);
        }
        WriteEventCore(id, count, data);
    }

    /// <summary>Packs an adapter number and an address into the events' address field.</summary>
    [NonEvent]
    public static long PackAddress(int adapter, ScsiAddress address) =>
        ((long)(adapter & 0xFF) << 24) | ((long)address.PathId << 16) | ((long)address.TargetId << 8) | address.Lun;
}
