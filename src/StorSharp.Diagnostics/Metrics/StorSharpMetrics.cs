using System.Diagnostics.Metrics;
using System.Globalization;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Metrics;

/// <summary>
/// The <c>System.Diagnostics.Metrics</c> instruments of a port, on the meter <c>StorSharp</c>. They
/// are observable: a collection (a <c>/metrics</c> scrape, <c>dotnet-counters</c>) reads the port's
/// own per-LU counters, so requests pay nothing extra for them.
/// </summary>
/// <remarks>
/// Instruments (tags <c>adapter</c> = RaidPortN, <c>lu</c> = b:t:l, and <c>name</c> when the host named the LU):
/// <list type="bullet">
/// <item><c>storsharp.lu.requests</c> (counter, tag <c>status</c> = ok|error): completed requests; IOPS is its rate.</item>
/// <item><c>storsharp.lu.bytes</c> (counter, By, tag <c>direction</c> = read|write).</item>
/// <item><c>storsharp.lu.latency.bucket</c> / <c>.sum</c> / <c>.count</c> (counters, s; <c>le</c> tag on buckets, cumulative):
/// the port latency histogram in the event 505 buckets; the Prometheus writer shows it as one histogram.</item>
/// <item><c>storsharp.lu.queue.depth</c> (gauge, tag <c>state</c> = pending|outstanding).</item>
/// <item><c>storsharp.lu.errors</c>, <c>storsharp.lu.timeouts</c>, <c>storsharp.lu.resets</c>, <c>storsharp.lu.busy</c> (counters).</item>
/// <item><c>storsharp.sessions</c> (up-down counter, tag <c>frontend</c>): iSCSI sessions, NBD connections.</item>
/// <item><c>storsharp.receive.polls</c> (counter, tags <c>frontend</c> and <c>result</c> = hit|miss): receive polls for
/// clients in lock step, and whether each found the next request before its window ran out.</item>
/// </list>
/// </remarks>
public sealed class StorSharpMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "StorSharp";

    private readonly StoragePort _port;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Func<long>> _sessionSources = [];
    private readonly Dictionary<string, long> _sessionCounts = [];
    private readonly Dictionary<string, Func<(long Polls, long Hits)>> _pollSources = [];
    private readonly Dictionary<(int, ScsiAddress), string> _names = [];

    /// <summary>Creates the instruments over <paramref name="port"/>.</summary>
    public StorSharpMetrics(StoragePort port)
    {
        _port = port;
        Meter = new Meter(MeterName, "1.0");
        Meter.CreateObservableCounter("storsharp.lu.requests", ObserveRequests, "{request}", "Requests the port completed, by LU and outcome.");
        Meter.CreateObservableCounter("storsharp.lu.bytes", ObserveBytes, "By", "Bytes moved by successful reads and writes.");
        Meter.CreateObservableCounter("storsharp.lu.latency.bucket", ObserveBuckets, "s", "Requests per port-latency bucket (cumulative, le = upper bound in seconds).");
        Meter.CreateObservableCounter("storsharp.lu.latency.sum", ObserveLatencySum, "s", "The sum of port latencies.");
        Meter.CreateObservableCounter("storsharp.lu.latency.count", ObserveLatencyCount, "{request}", "Requests in the latency histogram.");
        Meter.CreateObservableGauge("storsharp.lu.queue.depth", ObserveQueueDepth, "{request}", "Requests waiting in the port's queue (pending) and held by the miniport (outstanding).");
        Meter.CreateObservableCounter("storsharp.lu.errors", () => PerUnit(lu => lu.Performance.TotalFailed), "{request}", "Requests that did not succeed.");
        Meter.CreateObservableCounter("storsharp.lu.timeouts", () => PerUnit(lu => lu.Counters.Timeouts), "{timeout}", "LU timer expiries (event 129).");
        Meter.CreateObservableCounter("storsharp.lu.resets", () => PerUnit(lu => lu.Counters.Resets), "{reset}", "Resets that covered the LU.");
        Meter.CreateObservableCounter("storsharp.lu.busy", () => PerUnit(lu => lu.Counters.BusyRetries + lu.Counters.QueueFullRetries), "{answer}", "BUSY and QUEUE FULL answers retried.");
        Meter.CreateObservableUpDownCounter("storsharp.sessions", ObserveSessions, "{session}", "Open front-end sessions (iSCSI sessions, NBD connections).");
        Meter.CreateObservableCounter("storsharp.receive.polls", ObservePolls, "{poll}", "Receive polls for clients in lock step, by whether they found the next request (hit) or ran out (miss).");
    }

    /// <summary>The meter the instruments are on.</summary>
    public Meter Meter { get; }

    /// <summary>The port observed.</summary>
    public StoragePort Port => _port;

    /// <summary>Gives an LU a name for the <c>name</c> tag (its target IQN and LUN, or its NBD export).</summary>
    public void NameUnit(int adapter, ScsiAddress address, string name)
    {
        lock (_lock) _names[(adapter, address)] = name;
    }

    /// <summary>The name given with <see cref="NameUnit"/>, or null.</summary>
    public string? UnitName(int adapter, ScsiAddress address)
    {
        lock (_lock) return _names.GetValueOrDefault((adapter, address));
    }

    /// <summary>Counts a front end's sessions by asking it (the iSCSI target's <c>SessionCount</c>).</summary>
    public void AddSessionSource(string frontEnd, Func<long> count)
    {
        lock (_lock) _sessionSources[frontEnd] = count;
    }

    /// <summary>Reports a front end's receive polling counters (polls started, polls that found a request) by asking it.</summary>
    public void AddReceivePollingSource(string frontEnd, Func<(long Polls, long Hits)> counters)
    {
        lock (_lock) _pollSources[frontEnd] = counters;
    }

    /// <summary>A front end opened a session or connection (for front ends that count by events, like NBD connections).</summary>
    public void SessionOpened(string frontEnd)
    {
        lock (_lock) _sessionCounts[frontEnd] = _sessionCounts.GetValueOrDefault(frontEnd) + 1;
    }

    /// <summary>A front end closed a session or connection.</summary>
    public void SessionClosed(string frontEnd)
    {
        lock (_lock) _sessionCounts[frontEnd] = Math.Max(0, _sessionCounts.GetValueOrDefault(frontEnd) - 1);
    }

    /// <summary>Open sessions per front end, now.</summary>
    public IReadOnlyDictionary<string, long> Sessions()
    {
        var result = new Dictionary<string, long>();
        KeyValuePair<string, Func<long>>[] sources;
        lock (_lock)
        {
            foreach (var (k, v) in _sessionCounts) result[k] = v;
            sources = [.. _sessionSources];
        }
        foreach (var (k, f) in sources)
        {
            try { result[k] = result.GetValueOrDefault(k) + f(); } catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException) { }
        }
        return result;
    }

    private IEnumerable<(Adapter Adapter, LogicalUnit Unit, KeyValuePair<string, object?>[] Tags)> Units()
    {
        foreach (var adapter in _port.Adapters)
            foreach (var lu in adapter.LogicalUnits)
            {
                var name = UnitName(adapter.Number, lu.Address);
                KeyValuePair<string, object?>[] tags = name is null
                    ? [new("adapter", adapter.Name), new("lu", lu.Address.ToString())]
                    : [new("adapter", adapter.Name), new("lu", lu.Address.ToString()), new("name", name)];
                yield return (adapter, lu, tags);
            }
    }

    private static KeyValuePair<string, object?>[] With(KeyValuePair<string, object?>[] tags, string key, string value) => [.. tags, new(key, value)];

    private IEnumerable<Measurement<long>> PerUnit(Func<LogicalUnit, long> value)
    {
        foreach (var (_, lu, tags) in Units()) yield return new(value(lu), tags);
    }

    private IEnumerable<Measurement<long>> ObserveRequests()
    {
        foreach (var (_, lu, tags) in Units())
        {
            long total = lu.Performance.TotalCompleted, failed = lu.Performance.TotalFailed;
            yield return new(total - failed, With(tags, "status", "ok"));
            yield return new(failed, With(tags, "status", "error"));
        }
    }

    private IEnumerable<Measurement<long>> ObserveBytes()
    {
        foreach (var (_, lu, tags) in Units())
        {
            yield return new(lu.Performance.TotalBytesRead, With(tags, "direction", "read"));
            yield return new(lu.Performance.TotalBytesWritten, With(tags, "direction", "write"));
        }
    }

    private IEnumerable<Measurement<long>> ObserveBuckets()
    {
        var bounds = LatencyBuckets.UpperBoundsMicroseconds.ToArray();
        foreach (var (_, lu, tags) in Units())
        {
            var counts = lu.Performance.TotalBucketCounts();
            long cumulative = 0;
            for (int i = 0; i < counts.Length; i++)
            {
                cumulative += counts[i];
                string le = i < bounds.Length ? (bounds[i] / 1e6).ToString("0.######", CultureInfo.InvariantCulture) : "+Inf";
                yield return new(cumulative, With(tags, "le", le));
            }
        }
    }

    private IEnumerable<Measurement<double>> ObserveLatencySum()
    {
        foreach (var (_, lu, tags) in Units()) yield return new(lu.Performance.TotalLatencySeconds, tags);
    }

    private IEnumerable<Measurement<long>> ObserveLatencyCount()
    {
        foreach (var (_, lu, tags) in Units()) yield return new(lu.Performance.TotalCompleted, tags);
    }

    private IEnumerable<Measurement<int>> ObserveQueueDepth()
    {
        foreach (var (_, lu, tags) in Units())
        {
            yield return new(lu.PendingCount, With(tags, "state", "pending"));
            yield return new(lu.OutstandingCount, With(tags, "state", "outstanding"));
        }
    }

    private IEnumerable<Measurement<long>> ObserveSessions()
    {
        foreach (var (k, v) in Sessions()) yield return new(v, new KeyValuePair<string, object?>("frontend", k));
    }

    private IEnumerable<Measurement<long>> ObservePolls()
    {
        KeyValuePair<string, Func<(long Polls, long Hits)>>[] sources;
        lock (_lock) sources = [.. _pollSources];
        foreach (var (frontEnd, counters) in sources)
        {
            var (polls, hits) = counters();
            yield return new(hits, new("frontend", frontEnd), new("result", "hit"));
            yield return new(polls - hits, new("frontend", frontEnd), new("result", "miss"));
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Meter.Dispose();
}
