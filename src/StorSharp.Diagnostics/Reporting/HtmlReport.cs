using System.Globalization;
using System.Net;
using System.Text;
using StorSharp.Diagnostics.Tracing;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Reporting;

/// <summary>
/// The HTML trace report (<c>storsharp trace report FILE</c>): one self-contained page (inline CSS
/// and SVG, no script, nothing fetched) with IOPS and throughput over time, latency percentiles
/// over time, queue depth over time, the port events on those timelines, time by stage, a latency
/// histogram per LU, the events, and the slowest requests with their stage times.
/// </summary>
public static class HtmlReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static string E(string s) => WebUtility.HtmlEncode(s);

    /// <summary>Writes the report of <paramref name="analysis"/>; <paramref name="source"/> names the trace file in the title.</summary>
    public static void Write(TraceAnalysis analysis, TextWriter output, string source)
    {
        var t = analysis.Trace;
        double w = analysis.IntervalSeconds;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>StorSharp trace report: ").Append(E(source)).Append("</title><style>");
        sb.Append("body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:960px}h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}");
        sb.Append("table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}");
        sb.Append(".chart{display:block;margin:8px 0}.title{font-size:14px;font-weight:600}.axis{font-size:11px;fill:#555}.legend{font-size:12px}.value{font-size:10px;fill:#333}.grid{stroke:#e5e5e5}");
        sb.Append(".warn{background:#fff3cd;padding:8px;border:1px solid #e0c060}.kpi{display:inline-block;margin:4px 18px 4px 0}.kpi b{font-size:20px;display:block}");
        sb.Append("</style></head><body>");
        sb.Append("<h1>StorSharp trace report</h1>");
        sb.Append(Inv, $"<p>{E(source)}: started {t.StartUtc:yyyy-MM-dd HH:mm:ss.fff} UTC, {analysis.DurationSeconds:0.000} s, timeline intervals of {w:0.###} s.</p>");
        if (t.DroppedRequests > 0 || t.DroppedEvents > 0)
            sb.Append(Inv, $"<p class=\"warn\">The recorder dropped {t.DroppedRequests} requests and {t.DroppedEvents} event/BUSY records (size limit or buffers full); the figures below do not include them.</p>");
        if (t.Truncated) sb.Append("<p class=\"warn\">The file ends in the middle of a record (the server was killed); everything before it is included.</p>");

        sb.Append("<div id=\"summary\">");
        Kpi(sb, "requests", analysis.Requests.ToString(Inv));
        Kpi(sb, "failed", analysis.Failed.ToString(Inv));
        Kpi(sb, "average IOPS", TextReport.Rate(analysis.Requests, analysis.DurationSeconds));
        Kpi(sb, "read", TextReport.Bytes(analysis.BytesRead));
        Kpi(sb, "written", TextReport.Bytes(analysis.BytesWritten));
        Kpi(sb, "average latency", Duration(analysis.Latency.Average));
        Kpi(sb, "p99 latency", Duration(analysis.Latency.P99));
        Kpi(sb, "max latency", Duration(analysis.Latency.Max));
        sb.Append("</div>");

        var markers = new List<ChartMarker>();
        foreach (var e in t.Events)
            markers.Add(new ChartMarker(e.Time / 1e7, $"{e.Time / 1e7:0.000} s event {e.Id}: {e.Message}", e.Level == Port.EventLevel.Error ? "#c00000" : e.Level == Port.EventLevel.Warning ? "#e08000" : "#888888"));
        foreach (var g in t.Busy.GroupBy(b => (long)(b.Time / (w * 1e7))))
            markers.Add(new ChartMarker(g.Min(b => b.Time) / 1e7, $"{g.Min(b => b.Time) / 1e7:0.000} s: {g.Count()} BUSY / QUEUE FULL answer(s)", "#9040c0"));
        double xMax = Math.Max(analysis.DurationSeconds, w);
        var tl = analysis.Timeline;
        double Mid(TimelinePoint p) => p.Start + w / 2;

        sb.Append("<h2>Throughput</h2>");
        sb.Append(SvgChart.Lines("IOPS (requests finished per second)", "IOPS",
        [
            new("all", "#3b7dd8", [.. tl.Select(p => (Mid(p), p.Requests / w))]),
            new("failed", "#d83b3b", [.. tl.Select(p => (Mid(p), p.Failed / w))]),
        ], markers, xMax));
        sb.Append(SvgChart.Lines("Throughput (MiB/s)", "MiB/s",
        [
            new("read", "#2a9d5c", [.. tl.Select(p => (Mid(p), p.BytesRead / w / (1 << 20)))]),
            new("write", "#e08000", [.. tl.Select(p => (Mid(p), p.BytesWritten / w / (1 << 20)))]),
        ], markers, xMax));
        sb.Append("<h2>Latency</h2>");
        sb.Append(SvgChart.Lines("Latency percentiles per interval (received to reply, µs)", "µs",
        [
            new("p50", "#3b7dd8", [.. tl.Where(p => p.Requests > 0).Select(p => (Mid(p), p.Latency.P50))]),
            new("p99", "#e08000", [.. tl.Where(p => p.Requests > 0).Select(p => (Mid(p), p.Latency.P99))]),
            new("max", "#d83b3b", [.. tl.Where(p => p.Requests > 0).Select(p => (Mid(p), p.Latency.Max))]),
        ], markers, xMax));
        sb.Append("<h2>Queue depth</h2>");
        sb.Append(SvgChart.Lines("Requests inside the port (queued or in the miniport), mean per interval", "requests",
        [
            new("queue depth", "#6a4fc0", [.. tl.Select(p => (Mid(p), p.QueueDepth))]),
            new("BUSY answers", "#9040c0", [.. tl.Select(p => (Mid(p), (double)p.Busy))]),
        ], markers, xMax));

        sb.Append("<h2>Where the time went</h2>");
        sb.Append(Stages("All requests", analysis.Stages, analysis.Requests));
        sb.Append("<table id=\"stages\"><tr><th class=\"l\">LU</th><th>requests</th><th>front end µs</th><th>queue µs</th><th>service µs</th><th>completion µs</th><th>reply µs</th><th>total µs</th></tr>");
        foreach (var u in analysis.Units)
        {
            double n = Math.Max(1, u.Requests);
            sb.Append(Inv, $"<tr><td class=\"l\">{E(u.Name)}</td><td>{u.Requests}</td><td>{u.Stages.FrontEnd / n:0.0}</td><td>{u.Stages.Queue / n:0.0}</td><td>{u.Stages.Service / n:0.0}</td><td>{u.Stages.Completion / n:0.0}</td><td>{u.Stages.Reply / n:0.0}</td><td>{u.Stages.Total / n:0.0}</td></tr>");
        }
        sb.Append("</table><p>Averages per request. Front end: received to queued in the port (parsing, waiting for write data). Queue: waiting in the port's queue, BUSY pauses and holds included. Service: StartIo until the backend call returned. Completion: from there to the port's completion. Reply: completion to the reply being sent.</p>");

        sb.Append("<h2>Latency histograms per LU</h2><p>Port latency (queued to completed) in the buckets of Storport's performance summary (event 505).</p>");
        foreach (var u in analysis.Units)
        {
            sb.Append(SvgChart.Bars($"{u.Name}: {u.Requests} requests, {u.Failed} failed", LatencyBuckets.Labels, u.SuccessCounts, u.FailureCounts, "success", "failure"));
            sb.Append(Inv, $"<p>latency µs: average {u.Latency.Average:0.0}, p50 {u.Latency.P50:0.0}, p99 {u.Latency.P99:0.0}, max {u.Latency.Max:0.0}; read {TextReport.Bytes(u.BytesRead)}, written {TextReport.Bytes(u.BytesWritten)}</p>");
        }

        sb.Append(Inv, $"<h2>Events</h2><table id=\"events\"><tr><th>time s</th><th>id</th><th class=\"l\">level</th><th class=\"l\">device</th><th class=\"l\">message</th></tr>");
        foreach (var e in t.Events)
            sb.Append(Inv, $"<tr><td>{e.Time / 1e7:0.000}</td><td>{e.Id}</td><td class=\"l\">{e.Level}</td><td class=\"l\">{E(e.Device)}</td><td class=\"l\">{E(e.Message)}</td></tr>");
        foreach (var g in t.Busy.GroupBy(b => (b.Adapter, b.Address, b.QueueFull)))
            sb.Append(Inv, $"<tr><td>{g.Min(b => b.Time) / 1e7:0.000}</td><td></td><td class=\"l\">{(g.Key.QueueFull ? "QUEUE FULL" : "BUSY")}</td><td class=\"l\">{E(t.UnitName(g.Key.Adapter, g.Key.Address))}</td><td class=\"l\">{g.Count()} answer(s) until {g.Max(b => b.Time) / 1e7:0.000} s</td></tr>");
        sb.Append("</table>");

        sb.Append("<h2>Slowest requests</h2><table id=\"slowest\"><tr><th>received s</th><th class=\"l\">LU</th><th class=\"l\">operation</th><th class=\"l\">status</th><th>bytes</th><th>total µs</th><th>front end</th><th>queue</th><th>service</th><th>completion</th><th>reply</th><th>BUSY retries</th></tr>");
        foreach (var r in analysis.Slowest)
            sb.Append(Inv, $"<tr><td>{r.Received / 1e7:0.000000}</td><td class=\"l\">{E(t.UnitName(r.Adapter, r.Address))}</td><td class=\"l\">{E(TraceAnalysis.OperationName(r))}</td><td class=\"l\">{E(TraceAnalysis.StatusName(r))}</td><td>{r.Bytes}</td><td>{r.Total / 10.0:0.0}</td><td>{r.FrontEnd / 10.0:0.0}</td><td>{r.Queue / 10.0:0.0}</td><td>{r.Service / 10.0:0.0}</td><td>{r.Completion / 10.0:0.0}</td><td>{r.Reply / 10.0:0.0}</td><td>{r.BusyRetries}</td></tr>");
        sb.Append("</table></body></html>");
        output.Write(sb.ToString());
    }

    private static string Duration(double microseconds) => microseconds switch
    {
        >= 1e6 => (microseconds / 1e6).ToString("0.00", Inv) + " s",
        >= 1e4 => (microseconds / 1e3).ToString("0.0", Inv) + " ms",
        _ => microseconds.ToString("0.0", Inv) + " µs",
    };

    private static void Kpi(StringBuilder sb, string name, string value) =>
        sb.Append("<span class=\"kpi\"><b>").Append(E(value)).Append("</b>").Append(E(name)).Append("</span>");

    private static string Stages(string title, StageTotals s, long requests) => SvgChart.Split($"{title}: {requests} requests, {s.Total / 1e6:0.000} s in all",
    [
        ("front end", s.FrontEnd, "#8fb3e8"),
        ("queue", s.Queue, "#e08000"),
        ("service", s.Service, "#2a9d5c"),
        ("completion", s.Completion, "#6a4fc0"),
        ("reply", s.Reply, "#999999"),
    ]);
}
