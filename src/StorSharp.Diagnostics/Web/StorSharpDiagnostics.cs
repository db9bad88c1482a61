using StorSharp.Diagnostics.Metrics;
using StorSharp.Diagnostics.Web;
using StorSharp.Port;

namespace StorSharp.Diagnostics;

/// <summary>
/// The diagnostics of one running port, bundled for the HTTP endpoints: its metrics (meter
/// <c>StorSharp</c>), the Prometheus writer, and live snapshots for the dashboard. Create one per
/// port, hand it to <see cref="DiagnosticsEndpoints.MapStorSharpDiagnostics"/>, dispose it on stop.
/// </summary>
public sealed class StorSharpDiagnostics : IDisposable
{
    /// <summary>Creates the metrics and the Prometheus writer for <paramref name="port"/>.</summary>
    public StorSharpDiagnostics(StoragePort port)
    {
        Port = port;
        Metrics = new StorSharpMetrics(port);
        Prometheus = new PrometheusTextWriter(Metrics.Meter);
    }

    /// <summary>The port.</summary>
    public StoragePort Port { get; }

    /// <summary>The instruments; front ends register their session counts here.</summary>
    public StorSharpMetrics Metrics { get; }

    /// <summary>The <c>/metrics</c> writer.</summary>
    public PrometheusTextWriter Prometheus { get; }

    /// <summary>The state now: adapters, LUs with their running totals and queues, sessions, recent events.</summary>
    public LiveSnapshot Snapshot()
    {
        var adapters = new List<LiveAdapter>();
        foreach (var adapter in Port.Adapters)
        {
            var units = new List<LiveUnit>();
            foreach (var lu in adapter.LogicalUnits)
            {
                var p = lu.Performance;
                var c = lu.Counters;
                units.Add(new LiveUnit(adapter.Name, lu.Address.ToString(),
                    Metrics.UnitName(adapter.Number, lu.Address) ?? lu.Identity?.ProductId ?? lu.Address.ToString(),
                    p.TotalCompleted, p.TotalFailed, p.TotalBytesRead, p.TotalBytesWritten, p.TotalLatencySeconds,
                    lu.PendingCount, lu.OutstandingCount, lu.QueueDepth, c.Timeouts, c.Resets, c.BusyRetries + c.QueueFullRetries));
            }
            adapters.Add(new LiveAdapter(adapter.Name, adapter.Registration.Name, adapter.State.ToString(), adapter.IsLinkDown, units));
        }
        var events = Port.Events.Snapshot();
        var recent = events.Skip(Math.Max(0, events.Count - 20)).Select(e => new LiveEvent(e.Id, e.Time, e.Level.ToString(), e.Device, e.Message)).ToList();
        return new LiveSnapshot(Port.Time.GetUtcNow().ToUnixTimeMilliseconds(), adapters, Metrics.Sessions(), Port.Events.TotalCount, recent);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Prometheus.Dispose();
        Metrics.Dispose();
    }
}
