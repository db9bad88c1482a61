using System.Net.Http.Json;
using System.Text.Json;
using StorSharp.Diagnostics.Metrics;

namespace StorSharp.Diagnostics.Tests;

/// <summary>GET /metrics, /api/perf, /api/live and /dashboard on a real loopback server.</summary>
public sealed class EndpointTests
{
    [Fact]
    public async Task The_endpoints_answer_with_metrics_summaries_live_snapshots_and_the_dashboard()
    {
        await using var h = await WebHarness.StartAsync();
        using var http = new HttpClient { BaseAddress = h.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        h.StartLoad();
        while (h.Submitted < 500) await Task.Delay(20);

        using var metrics = await http.GetAsync("/metrics");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Content.Headers.ContentType!.ToString());
        string text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("storsharp_lu_requests_total{adapter=\"RaidPort0\",lu=\"0:0:0\",name=\"disk0\",status=\"ok\"}", text);
        Assert.Contains("storsharp_sessions{frontend=\"iscsi\"} 1", text);

        using var perf = JsonDocument.Parse(await http.GetStringAsync("/api/perf"));
        var lus = perf.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, lus.Count);
        var lu0 = lus.Single(e => e.GetProperty("lu").GetString() == "0:0:0");
        Assert.Equal(14, lu0.GetProperty("successCounts").GetArrayLength());
        Assert.Equal("20000+ms", lu0.GetProperty("buckets")[13].GetString());
        Assert.True(lu0.GetProperty("totalIo").GetInt64() > 0);
        Assert.True(lu0.GetProperty("bytesRead").GetInt64() > 0);

        var once = await http.GetFromJsonAsync<JsonElement>("/api/live?once=true");
        Assert.Equal("RaidPort0", once.GetProperty("adapters")[0].GetProperty("name").GetString());
        Assert.Equal("disk0", once.GetProperty("adapters")[0].GetProperty("units")[0].GetProperty("name").GetString());

        // Server-sent events: two snapshots, the second with more completed requests.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/live");
        using var live = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", live.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await live.Content.ReadAsStreamAsync());
        var completed = new List<long>();
        while (completed.Count < 2)
        {
            var line = await reader.ReadLineAsync();
            Assert.NotNull(line);
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            using var doc = JsonDocument.Parse(line["data: ".Length..]);
            completed.Add(doc.RootElement.GetProperty("adapters")[0].GetProperty("units").EnumerateArray().Sum(u => u.GetProperty("completed").GetInt64()));
        }
        Assert.True(completed[1] > completed[0], $"{completed[0]} then {completed[1]}");

        string page = await http.GetStringAsync("/dashboard");
        Assert.Contains("<canvas id=\"chart-iops\"", page);
        Assert.Contains("new EventSource(", page);
        Assert.DoesNotContain("src=\"http", page); // self-contained: nothing from a CDN
    }
}
