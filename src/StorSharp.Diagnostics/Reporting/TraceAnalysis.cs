using StorSharp.Diagnostics.Tracing;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Reporting;

/// <summary>Latency percentiles and averages of a set of requests, in microseconds.</summary>
/// <param name="Count">How many requests.</param>
/// <param name="Average">The mean.</param>
/// <param name="P50">The median.</param>
/// <param name="P90">The 90th percentile.</param>
/// <param name="P99">The 99th percentile.</param>
/// <param name="P999">The 99.9th percentile.</param>
/// <param name="Max">The slowest.</param>
public sealed record LatencyStats(long Count, double Average, double P50, double P90, double P99, double P999, double Max)
{
    /// <summary>Stats of latencies given in 100 ns units (sorted in place).</summary>
    public static LatencyStats From(long[] latencies100ns)
    {
        if (latencies100ns.Length == 0) return new(0, 0, 0, 0, 0, 0, 0);
        Array.Sort(latencies100ns);
        double P(double q) => latencies100ns[Math.Clamp((int)Math.Ceiling(q * latencies100ns.Length) - 1, 0, latencies100ns.Length - 1)] / 10.0;
        return new(latencies100ns.Length, latencies100ns.Average() / 10.0, P(0.50), P(0.90), P(0.99), P(0.999), latencies100ns[^1] / 10.0);
    }
}

/// <summary>Time spent in each stage, summed over requests, in microseconds.</summary>
/// <param name="FrontEnd">Received to queued (the front end: parsing, waiting for write data).</param>
/// <param name="Queue">Waiting in the port's queue (including BUSY pauses and holds).</param>
/// <param name="Service">In the miniport until its backend call returned.</param>
/// <param name="Completion">From the backend's return to the port's completion.</param>
/// <param name="Reply">From completion to the reply being sent.</param>
public sealed record StageTotals(double FrontEnd, double Queue, double Service, double Completion, double Reply)
{
    /// <summary>All stages.</summary>
    public double Total => FrontEnd + Queue + Service + Completion + Reply;
}

/// <summary>One interval of the timeline.</summary>
/// <param name="Start">Seconds since the trace started.</param>
/// <param name="Requests">Requests that finished in it.</param>
/// <param name="Failed">Of those, failures.</param>
/// <param name="BytesRead">Bytes read by them.</param>
/// <param name="BytesWritten">Bytes written by them.</param>
/// <param name="Latency">Their latencies (received to reply).</param>
/// <param name="QueueDepth">The mean number of requests inside the port (queued or in the miniport) over the interval.</param>
/// <param name="Busy">BUSY / QUEUE FULL answers in it.</param>
public sealed record TimelinePoint(double Start, long Requests, long Failed, long BytesRead, long BytesWritten, LatencyStats Latency, double QueueDepth, long Busy);

/// <summary>One LU's part of a trace.</summary>
/// <param name="Adapter">The adapter's number.</param>
/// <param name="Address">Bus, target and LUN.</param>
/// <param name="Name">Its name in the trace.</param>
/// <param name="Requests">Requests.</param>
/// <param name="Failed">Failed requests.</param>
/// <param name="BytesRead">Bytes read.</param>
/// <param name="BytesWritten">Bytes written.</param>
/// <param name="Latency">Latency (received to reply).</param>
/// <param name="SuccessCounts">Successes per <see cref="LatencyBuckets"/> bucket of the port latency (queued to completed), as event 505 counts them.</param>
/// <param name="FailureCounts">Failures per bucket.</param>
/// <param name="Stages">Time per stage.</param>
public sealed record UnitAnalysis(int Adapter, ScsiAddress Address, string Name, long Requests, long Failed, long BytesRead, long BytesWritten,
    LatencyStats Latency, long[] SuccessCounts, long[] FailureCounts, StageTotals Stages);

/// <summary>
/// What a trace says: totals, a timeline (IOPS, throughput, latency percentiles, queue depth,
/// BUSY answers), a latency histogram and stage split per LU, the port events, and the slowest
/// requests. The HTML and text reports both render this.
/// </summary>
public sealed class TraceAnalysis
{
    /// <summary>How many slowest requests are listed.</summary>
    public const int SlowestCount = 25;

    private TraceAnalysis(TraceData trace) => Trace = trace;

    /// <summary>The trace analysed.</summary>
    public TraceData Trace { get; }

    /// <summary>Seconds from the first request received (or event) to the last reply.</summary>
    public double DurationSeconds { get; private set; }

    /// <summary>The width of a timeline interval in seconds.</summary>
    public double IntervalSeconds { get; private set; }

    /// <summary>Every request.</summary>
    public long Requests { get; private set; }

    /// <summary>Failed requests.</summary>
    public long Failed { get; private set; }

    /// <summary>Bytes read and written.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Bytes written.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Latency of every request (received to reply).</summary>
    public LatencyStats Latency { get; private set; } = LatencyStats.From([]);

    /// <summary>Time per stage over every request.</summary>
    public StageTotals Stages { get; private set; } = new(0, 0, 0, 0, 0);

    /// <summary>The timeline.</summary>
    public IReadOnlyList<TimelinePoint> Timeline { get; private set; } = [];

    /// <summary>Per LU.</summary>
    public IReadOnlyList<UnitAnalysis> Units { get; private set; } = [];

    /// <summary>The slowest requests, slowest first.</summary>
    public IReadOnlyList<TraceRequest> Slowest { get; private set; } = [];

    /// <summary>Requests by kind (read, write, flush, unmap, other).</summary>
    public IReadOnlyDictionary<OperationClass, long> ByKind { get; private set; } = new Dictionary<OperationClass, long>();

    /// <summary>Analyses <paramref name="trace"/>.</summary>
    public static TraceAnalysis Analyse(TraceData trace)
    {
        var a = new TraceAnalysis(trace);
        a.Run();
        return a;
    }

    private void Run()
    {
        var reqs = Trace.Requests;
        long end = 0;
        foreach (var r in reqs) end = Math.Max(end, r.End);
        foreach (var e in Trace.Events) end = Math.Max(end, e.Time);
        foreach (var b in Trace.Busy) end = Math.Max(end, b.Time);
        DurationSeconds = end / 1e7;
        double[] widths = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
        IntervalSeconds = widths.FirstOrDefault(w => DurationSeconds / w <= 120, 3600 * Math.Ceiling(DurationSeconds / 3600 / 120));
        long width = (long)(IntervalSeconds * 1e7);
        int intervals = Math.Max(1, (int)(end / width) + 1);

        var lat = new List<long>[intervals];
        var count = new long[intervals];
        var failed = new long[intervals];
        var read = new long[intervals];
        var written = new long[intervals];
        var depth = new double[intervals];
        var busy = new long[intervals];
        for (int i = 0; i < intervals; i++) lat[i] = [];
        var all = new long[reqs.Count];
        double fe = 0, qu = 0, sv = 0, co = 0, rp = 0;
        var kinds = new Dictionary<OperationClass, long>();
        var perUnit = new Dictionary<(int, ScsiAddress), List<TraceRequest>>();
        for (int n = 0; n < reqs.Count; n++)
        {
            var r = reqs[n];
            int i = Math.Min(intervals - 1, (int)(r.End / width));
            count[i]++;
            if (!r.IsSuccess) { failed[i]++; Failed++; }
            var kind = r.Kind;
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            if (r.IsSuccess && kind == OperationClass.Read) { read[i] += r.Bytes; BytesRead += r.Bytes; }
            if (r.IsSuccess && kind == OperationClass.Write) { written[i] += r.Bytes; BytesWritten += r.Bytes; }
            lat[i].Add(r.Total);
            all[n] = r.Total;
            fe += r.FrontEnd; qu += r.Queue; sv += r.Service; co += r.Completion; rp += r.Reply;
            // Queue depth: the time each request spent inside the port, spread over the intervals it spans.
            long from = r.Queued, to = r.Completed;
            for (long t = from; t < to;)
            {
                int k = (int)(t / width);
                if (k >= intervals) break;
                long next = Math.Min(to, (k + 1) * width);
                depth[k] += (next - t) / (double)width;
                t = next;
            }
            var key = (r.Adapter, r.Address);
            if (!perUnit.TryGetValue(key, out var list)) perUnit[key] = list = [];
            list.Add(r);
        }
        foreach (var b in Trace.Busy) busy[Math.Min(intervals - 1, (int)(b.Time / width))]++;
        Requests = reqs.Count;
        ByKind = kinds;
        Stages = new StageTotals(fe / 10, qu / 10, sv / 10, co / 10, rp / 10);
        Latency = LatencyStats.From(all);
        var timeline = new TimelinePoint[intervals];
        for (int i = 0; i < intervals; i++)
            timeline[i] = new TimelinePoint(i * IntervalSeconds, count[i], failed[i], read[i], written[i], LatencyStats.From([.. lat[i]]), depth[i], busy[i]);
        Timeline = timeline;

        var units = new List<UnitAnalysis>();
        foreach (var ((adapter, address), list) in perUnit.OrderBy(p => p.Key.Item1).ThenBy(p => p.Key.Item2.PathId).ThenBy(p => p.Key.Item2.TargetId).ThenBy(p => p.Key.Item2.Lun))
        {
            var success = new long[LatencyBuckets.Count];
            var failure = new long[LatencyBuckets.Count];
            long br = 0, bw = 0, f = 0;
            double ufe = 0, uqu = 0, usv = 0, uco = 0, urp = 0;
            foreach (var r in list)
            {
                int bucket = LatencyBuckets.IndexOfMicroseconds(r.PortLatency / 10);
                if (r.IsSuccess) success[bucket]++; else { failure[bucket]++; f++; }
                if (r.IsSuccess && r.Kind == OperationClass.Read) br += r.Bytes;
                if (r.IsSuccess && r.Kind == OperationClass.Write) bw += r.Bytes;
                ufe += r.FrontEnd; uqu += r.Queue; usv += r.Service; uco += r.Completion; urp += r.Reply;
            }
            units.Add(new UnitAnalysis(adapter, address, Trace.UnitName(adapter, address), list.Count, f, br, bw,
                LatencyStats.From([.. list.Select(r => r.Total)]), success, failure, new StageTotals(ufe / 10, uqu / 10, usv / 10, uco / 10, urp / 10)));
        }
        Units = units;
        Slowest = [.. reqs.OrderByDescending(r => r.Total).Take(SlowestCount)];
    }

    /// <summary>The name of a SCSI operation code for people (READ(10), WRITE(16), ...).</summary>
    public static string OperationName(TraceRequest r) => r.Function != SrbFunction.ExecuteScsi ? r.Function.ToString() : r.OperationCode switch
    {
        0x00 => "TEST UNIT READY", 0x03 => "REQUEST SENSE", 0x12 => "INQUIRY", 0x1A => "MODE SENSE(6)", 0x5A => "MODE SENSE(10)",
        0x25 => "READ CAPACITY(10)", 0x9E => "READ CAPACITY(16)", 0xA0 => "REPORT LUNS",
        0x08 => "READ(6)", 0x28 => "READ(10)", 0xA8 => "READ(12)", 0x88 => "READ(16)",
        0x0A => "WRITE(6)", 0x2A => "WRITE(10)", 0xAA => "WRITE(12)", 0x8A => "WRITE(16)",
        0x2E => "WRITE AND VERIFY(10)", 0x8E => "WRITE AND VERIFY(16)", 0x41 => "WRITE SAME(10)", 0x93 => "WRITE SAME(16)", 0x89 => "COMPARE AND WRITE",
        0x35 => "SYNCHRONIZE CACHE(10)", 0x91 => "SYNCHRONIZE CACHE(16)", 0x42 => "UNMAP",
        _ => $"opcode 0x{r.OperationCode:X2}",
    };

    /// <summary>The request's status for people: SrbStatus, and the SCSI status when not GOOD.</summary>
    public static string StatusName(TraceRequest r)
    {
        var srb = (SrbStatus)(r.RawSrbStatus & 0x3F);
        string text = Enum.IsDefined(srb) ? srb.ToString() : $"0x{r.RawSrbStatus:X2}";
        if (r.ScsiStatus != 0) text += $"/{(Enum.IsDefined((ScsiStatus)r.ScsiStatus) ? ((ScsiStatus)r.ScsiStatus).ToString() : $"0x{r.ScsiStatus:X2}")}";
        if ((r.Flags & TraceFormat.FlagResetByPort) != 0) text += " (reset by port)";
        else if ((r.Flags & TraceFormat.FlagCompletedByPort) != 0) text += " (completed by port)";
        if ((r.Flags & TraceFormat.FlagNoReply) != 0) text += " (no reply sent)";
        return text;
    }
}
