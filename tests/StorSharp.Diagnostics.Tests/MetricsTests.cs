using System.Text.RegularExpressions;
using StorSharp.Diagnostics.Metrics;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Tests;

/// <summary>The meter's instruments and the Prometheus text format.</summary>
public sealed partial class MetricsTests
{
    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=""([^""\\]|\\.)*"",?)*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$")]
    private static partial Regex SampleLine();

    [Fact]
    public async Task Metrics_show_requests_bytes_a_latency_histogram_queue_depth_errors_and_sessions()
    {
        await using var h = await PortHarness.StartAsync();
        using var diagnostics = new StorSharpDiagnostics(h.Port);
        diagnostics.Metrics.NameUnit(0, PortHarness.Lu1, "iqn.2026-11.io.storsharp:disk0 lun 1");
        diagnostics.Metrics.AddSessionSource("iscsi", () => 3);
        long polls = 10, hits = 7;
        diagnostics.Metrics.AddReceivePollingSource("nbd", () => (polls, hits));
        diagnostics.Metrics.SessionOpened("nbd");
        diagnostics.Metrics.SessionOpened("nbd");
        diagnostics.Metrics.SessionClosed("nbd");
        string baseline = diagnostics.Prometheus.Collect();
        long Count(string text, string series) =>
            text.Split('\n').Where(l => l.StartsWith(series + " ", StringComparison.Ordinal)).Select(l => long.Parse(l[(series.Length + 1)..])).SingleOrDefault();
        const string okSeries = "storsharp_lu_requests_total{adapter=\"RaidPort0\",lu=\"0:0:0\",status=\"ok\"}";
        long before = Count(baseline, okSeries);

        for (uint t = 0; t < 5; t++) h.Receive(h.Request(t));
        h.Miniport.OnIo = (srb, mp) => mp.Complete(srb, SrbStatus.Error, ScsiStatus.CheckCondition);
        h.Receive(h.Request(9, write: true, address: PortHarness.Lu1));
        h.Miniport.OnIo = (srb, mp) => mp.Hold(srb);
        h.Receive(h.Request(10));
        h.Receive(h.Request(11));

        string text = diagnostics.Prometheus.Collect();
        Assert.Equal(before + 5, Count(text, okSeries));
        Assert.Contains("# TYPE storsharp_lu_requests_total counter", text);
        Assert.Contains("storsharp_lu_requests_total{adapter=\"RaidPort0\",lu=\"0:0:1\",name=\"iqn.2026-11.io.storsharp:disk0 lun 1\",status=\"error\"} 1", text);
        Assert.Contains("storsharp_lu_bytes_total{adapter=\"RaidPort0\",direction=\"read\",lu=\"0:0:0\"} " + (5 * 4096 + Count(baseline, "storsharp_lu_bytes_total{adapter=\"RaidPort0\",direction=\"read\",lu=\"0:0:0\"}")), text);
        Assert.Contains("# TYPE storsharp_lu_latency_seconds histogram", text);
        long infBucket = Count(text, "storsharp_lu_latency_seconds_bucket{adapter=\"RaidPort0\",lu=\"0:0:0\",le=\"+Inf\"}");
        Assert.Equal(Count(text, "storsharp_lu_latency_seconds_count{adapter=\"RaidPort0\",lu=\"0:0:0\"}"), infBucket);
        Assert.True(infBucket >= 5);
        Assert.Contains("storsharp_lu_queue_depth{adapter=\"RaidPort0\",lu=\"0:0:0\",state=\"outstanding\"} 2", text);
        Assert.Contains("storsharp_lu_errors_total{adapter=\"RaidPort0\",lu=\"0:0:1\",name=\"iqn.2026-11.io.storsharp:disk0 lun 1\"} 1", text);
        Assert.Contains("storsharp_sessions{frontend=\"iscsi\"} 3", text);
        Assert.Contains("storsharp_sessions{frontend=\"nbd\"} 1", text);
        Assert.Contains("# TYPE storsharp_receive_polls_total counter", text);
        Assert.Contains("storsharp_receive_polls_total{frontend=\"nbd\",result=\"hit\"} 7", text);
        Assert.Contains("storsharp_receive_polls_total{frontend=\"nbd\",result=\"miss\"} 3", text);
        (polls, hits) = (25, 20); // read at each collection, not copied
        string again = diagnostics.Prometheus.Collect();
        Assert.Contains("storsharp_receive_polls_total{frontend=\"nbd\",result=\"hit\"} 20", again);
        Assert.Contains("storsharp_receive_polls_total{frontend=\"nbd\",result=\"miss\"} 5", again);
        Assert.Contains("# TYPE storsharp_lu_timeouts_total counter", text);
        Assert.Contains("# TYPE storsharp_lu_resets_total counter", text);

        // Bucket lines are cumulative and in order of le.
        var buckets = text.Split('\n').Where(l => l.StartsWith("storsharp_lu_latency_seconds_bucket{adapter=\"RaidPort0\",lu=\"0:0:0\"", StringComparison.Ordinal))
            .Select(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..])).ToList();
        Assert.Equal(14, buckets.Count);
        Assert.Equal(buckets.Order(), buckets);

        // Every line is a comment or a valid sample.
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.True(line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal) || SampleLine().IsMatch(line), line);
        h.Miniport.OnIo = (srb, mp) => mp.Complete(srb, SrbStatus.Success);
        h.Miniport.CompleteAllHeld();
    }

    [Fact]
    public void Metric_names_follow_the_prometheus_rules()
    {
        Assert.Equal("storsharp_lu_bytes", PrometheusTextWriter.MetricName("storsharp.lu.bytes", "By"));
        Assert.Equal("storsharp_lu_latency_seconds", PrometheusTextWriter.MetricName("storsharp.lu.latency", "s"));
        Assert.Equal("_9lives", PrometheusTextWriter.MetricName("9lives", null));
        Assert.Equal("a_b_c", PrometheusTextWriter.MetricName("a-b c", "{request}"));
    }
}
