using System.Globalization;
using System.Text;
using StorSharp.Diagnostics.Tracing;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Reporting;

/// <summary>The plain-text trace report (<c>storsharp trace report FILE --format text</c>): the HTML report's summary with averages and maximums.</summary>
public static class TextReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes the report of <paramref name="analysis"/>.</summary>
    public static void Write(TraceAnalysis analysis, TextWriter output)
    {
        var t = analysis.Trace;
        var sb = new StringBuilder();
        sb.AppendLine(Inv, $"StorSharp trace started {t.StartUtc:yyyy-MM-dd HH:mm:ss.fff} UTC, {analysis.DurationSeconds:0.000} s");
        sb.AppendLine(Inv, $"requests {analysis.Requests} ({analysis.Failed} failed), {Rate(analysis.Requests, analysis.DurationSeconds)} IOPS average");
        sb.AppendLine(Inv, $"read {Bytes(analysis.BytesRead)} ({Bytes(Rate(analysis.BytesRead, analysis.DurationSeconds))}/s), written {Bytes(analysis.BytesWritten)} ({Bytes(Rate(analysis.BytesWritten, analysis.DurationSeconds))}/s)");
        sb.AppendLine(Inv, $"by kind: {string.Join(", ", analysis.ByKind.OrderBy(k => k.Key).Select(k => $"{k.Key.ToString().ToLowerInvariant()} {k.Value}"))}");
        if (t.DroppedRequests > 0 || t.DroppedEvents > 0)
            sb.AppendLine(Inv, $"DROPPED by the recorder: {t.DroppedRequests} requests, {t.DroppedEvents} events/busy records (size limit or buffers full): totals below miss them");
        if (t.Truncated) sb.AppendLine("the file ends in the middle of a record (the server was killed); everything before it is included");
        sb.AppendLine();
        sb.AppendLine("latency (received to reply), microseconds");
        sb.AppendLine(Inv, $"  average {analysis.Latency.Average:0.0}  p50 {analysis.Latency.P50:0.0}  p90 {analysis.Latency.P90:0.0}  p99 {analysis.Latency.P99:0.0}  p99.9 {analysis.Latency.P999:0.0}  max {analysis.Latency.Max:0.0}");
        sb.AppendLine();
        sb.AppendLine("time by stage (sum over requests; average per request)");
        AppendStages(sb, analysis.Stages, analysis.Requests, "  ");
        sb.AppendLine();

        var peak = analysis.Timeline.OrderByDescending(p => p.Requests).FirstOrDefault();
        if (peak is not null)
        {
            double w = analysis.IntervalSeconds;
            sb.AppendLine(Inv, $"timeline ({w:0.###} s intervals)");
            sb.AppendLine(Inv, $"  IOPS: average {Rate(analysis.Requests, analysis.DurationSeconds)}, max {peak.Requests / w:0} (at {peak.Start:0.###} s)");
            var deepest = analysis.Timeline.MaxBy(p => p.QueueDepth)!;
            sb.AppendLine(Inv, $"  queue depth in the port: average {analysis.Timeline.Average(p => p.QueueDepth):0.00}, max {deepest.QueueDepth:0.00} (at {deepest.Start:0.###} s)");
            var worst = analysis.Timeline.MaxBy(p => p.Latency.P99)!;
            sb.AppendLine(Inv, $"  worst p99 latency: {worst.Latency.P99:0.0} us (at {worst.Start:0.###} s)");
            sb.AppendLine();
        }

        foreach (var u in analysis.Units)
        {
            string where = u.Name.StartsWith($"RaidPort{u.Adapter} {u.Address}", StringComparison.Ordinal) ? u.Name : $"{u.Name} (RaidPort{u.Adapter} {u.Address})";
            sb.AppendLine(Inv, $"LU {where}: {u.Requests} requests, {u.Failed} failed, read {Bytes(u.BytesRead)}, written {Bytes(u.BytesWritten)}");
            sb.AppendLine(Inv, $"  latency us: average {u.Latency.Average:0.0}, p99 {u.Latency.P99:0.0}, max {u.Latency.Max:0.0}");
            sb.AppendLine("  port latency histogram (event 505 buckets): bucket  success  failed");
            for (int i = 0; i < LatencyBuckets.Count; i++)
                if (u.SuccessCounts[i] + u.FailureCounts[i] > 0)
                    sb.AppendLine(Inv, $"    <= {LatencyBuckets.Labels[i],-9} {u.SuccessCounts[i],8} {u.FailureCounts[i],7}");
            AppendStages(sb, u.Stages, u.Requests, "  ");
            sb.AppendLine();
        }

        if (t.Events.Count > 0 || t.Busy.Count > 0)
        {
            sb.AppendLine(Inv, $"events ({t.Events.Count}; BUSY / QUEUE FULL answers: {t.Busy.Count})");
            foreach (var e in t.Events) sb.AppendLine(Inv, $"  {e.Time / 1e7,9:0.000} s  {e.Id,5}  {e.Level,-11} {e.Device}: {e.Message}");
            foreach (var g in t.Busy.GroupBy(b => (b.Adapter, b.Address, b.QueueFull)))
                sb.AppendLine(Inv, $"  {g.Min(b => b.Time) / 1e7,9:0.000} s  {(g.Key.QueueFull ? "QUEUE FULL" : "BUSY"),-10} x{g.Count()} on {t.UnitName(g.Key.Adapter, g.Key.Address)} (until {g.Max(b => b.Time) / 1e7:0.000} s)");
            sb.AppendLine();
        }

        sb.AppendLine("slowest requests (us): at  LU  operation  status  bytes  total = front end + queue + service + completion + reply");
        foreach (var r in analysis.Slowest)
        {
            sb.Append(Inv, $"  {r.Received / 1e7:0.000000} s  {t.UnitName(r.Adapter, r.Address)}  {TraceAnalysis.OperationName(r)}  {TraceAnalysis.StatusName(r)}  {r.Bytes}  ");
            sb.Append(Inv, $"{r.Total / 10.0:0.0} = {r.FrontEnd / 10.0:0.0} + {r.Queue / 10.0:0.0} + {r.Service / 10.0:0.0} + {r.Completion / 10.0:0.0} + {r.Reply / 10.0:0.0}");
            sb.AppendLine(r.BusyRetries > 0 ? $"  ({r.BusyRetries} BUSY retries)" : "");
        }
        output.Write(sb.ToString());
    }

    private static void AppendStages(StringBuilder sb, StageTotals s, long requests, string indent)
    {
        double total = Math.Max(s.Total, 1e-9);
        void Line(string name, double us) =>
            sb.AppendLine(Inv, $"{indent}{name,-11} {us / 1e6,10:0.000} s  {100 * us / total,5:0.0} %  {(requests == 0 ? 0 : us / requests),10:0.0} us/request");
        Line("front end", s.FrontEnd);
        Line("queue", s.Queue);
        Line("service", s.Service);
        Line("completion", s.Completion);
        Line("reply", s.Reply);
    }

    internal static string Rate(double amount, double seconds) => seconds <= 0 ? "0" : (amount / seconds).ToString("0", Inv);

    internal static string Bytes(double bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (1L << 30)).ToString("0.00", Inv) + " GiB",
        >= 1 << 20 => (bytes / (1 << 20)).ToString("0.00", Inv) + " MiB",
        >= 1 << 10 => (bytes / (1 << 10)).ToString("0.0", Inv) + " KiB",
        _ => bytes.ToString("0", Inv) + " B",
    };

    internal static string Bytes(string rate) => double.TryParse(rate, NumberStyles.Float, Inv, out var v) ? Bytes(v) : rate;
}
