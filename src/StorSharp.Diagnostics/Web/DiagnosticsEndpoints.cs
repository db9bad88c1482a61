using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StorSharp.Diagnostics.Metrics;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Web;

/// <summary>
/// The diagnostics HTTP endpoints, for the management server to mount:
/// <c>GET /metrics</c> (Prometheus text 0.0.4), <c>GET /api/perf</c> (each LU's event-505 summary;
/// <c>?reset=true</c> starts a new interval), <c>GET /api/live</c> (server-sent events, one
/// <see cref="LiveSnapshot"/> a second; <c>?once=true</c> answers one snapshot as JSON) and
/// <c>GET /dashboard</c> (the live dashboard page, self-contained).
/// </summary>
public static class DiagnosticsEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
    };

    private static readonly Lazy<string> DashboardHtml = new(() =>
    {
        using var stream = typeof(DiagnosticsEndpoints).Assembly.GetManifestResourceStream("StorSharp.Diagnostics.dashboard.html")
            ?? throw new InvalidOperationException("The dashboard page is missing from StorSharp.Diagnostics' resources.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>Maps the endpoints under <paramref name="prefix"/> (for example <c>""</c> or <c>"/diag"</c>).</summary>
    /// <param name="endpoints">The route builder (a WebApplication).</param>
    /// <param name="diagnostics">The port's diagnostics.</param>
    /// <param name="prefix">A path prefix without a trailing slash.</param>
    /// <param name="liveInterval">How often /api/live sends a snapshot; one second when null.</param>
    /// <returns>The group the endpoints are in, to add authorization or filters to.</returns>
    public static RouteGroupBuilder MapStorSharpDiagnostics(this IEndpointRouteBuilder endpoints, StorSharpDiagnostics diagnostics, string prefix = "", TimeSpan? liveInterval = null)
    {
        ArgumentNullException.ThrowIfNull(diagnostics);
        var interval = liveInterval ?? TimeSpan.FromSeconds(1);
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(liveInterval), "The live interval must be positive.");
        var group = endpoints.MapGroup(prefix);
        group.MapGet("/metrics", () => Results.Text(diagnostics.Prometheus.Collect(), PrometheusTextWriter.ContentType));
        group.MapGet("/api/perf", (bool? reset) =>
            Results.Json(diagnostics.Port.PerformanceSummaries(reset ?? false).Select(PerfView.From), Json));
        group.MapGet("/api/live", async (HttpContext context, bool? once) =>
        {
            if (once == true)
            {
                await context.Response.WriteAsJsonAsync(diagnostics.Snapshot(), Json, context.RequestAborted).ConfigureAwait(false);
                return;
            }
            context.Response.Headers.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            var token = context.RequestAborted;
            try
            {
                while (!token.IsCancellationRequested)
                {
                    string json = JsonSerializer.Serialize(diagnostics.Snapshot(), Json);
                    await context.Response.WriteAsync("data: " + json + "\n\n", token).ConfigureAwait(false);
                    await context.Response.Body.FlushAsync(token).ConfigureAwait(false);
                    await Task.Delay(interval, token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) { }
            catch (IOException) { } // the browser went away
        });
        group.MapGet("/dashboard", () => Results.Content(DashboardHtml.Value, "text/html; charset=utf-8"));
        return group;
    }

    /// <summary>A performance summary as /api/perf answers it.</summary>
    internal sealed record PerfView(
        int Adapter, string Lu, DateTimeOffset Since, DateTimeOffset Until, long TotalIo, long FailedIo,
        IReadOnlyList<string> Buckets, long[] SuccessCounts, long[] FailureCounts, long[] TotalLatencyMicroseconds,
        long BytesRead, long BytesWritten, long MaxReadLatencyMicroseconds, long MaxWriteLatencyMicroseconds,
        long MaxFlushLatencyMicroseconds, long MaxUnmapLatencyMicroseconds, long QueuedMicroseconds, long BusyMicroseconds,
        long BusyCount, long PausedMicroseconds, int MaxOutstanding, FirstErrorRecord? FirstError)
    {
        public static PerfView From(PerformanceSummary s) => new(
            s.Adapter, s.Address.ToString(), s.Since, s.Until, s.TotalIo, s.FailedIo, LatencyBuckets.Labels,
            s.SuccessCounts, s.FailureCounts, s.TotalLatencyMicroseconds, s.BytesRead, s.BytesWritten,
            s.MaxReadLatencyMicroseconds, s.MaxWriteLatencyMicroseconds, s.MaxFlushLatencyMicroseconds, s.MaxUnmapLatencyMicroseconds,
            s.QueuedMicroseconds, s.BusyMicroseconds, s.BusyCount, s.PausedMicroseconds, s.MaxOutstanding, s.FirstError);
    }
}
