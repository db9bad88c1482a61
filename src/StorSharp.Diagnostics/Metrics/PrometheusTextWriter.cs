using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace StorSharp.Diagnostics.Metrics;

/// <summary>
/// Writes the instruments of one <see cref="Meter"/> in the Prometheus text exposition format 0.0.4
/// (<c>Content-Type: text/plain; version=0.0.4</c>), fed by a <see cref="MeterListener"/>.
/// </summary>
/// <remarks>
/// Names: dots become underscores, the unit is appended (<c>By</c> as <c>_bytes</c>, <c>s</c> as
/// <c>_seconds</c>), and counters end in <c>_total</c>. Observable instruments are read at each
/// scrape; counters and up-down counters are summed, gauges keep their last value, histograms
/// are aggregated into the event-505 buckets. Instruments named <c>X.bucket</c> (with an
/// <c>le</c> tag, cumulative), <c>X.sum</c> and <c>X.count</c> are written as one histogram
/// family <c>X</c>. Thread-safe: scrapes are serialised.
/// </remarks>
public sealed class PrometheusTextWriter : IDisposable
{
    /// <summary>The content type of the exposition format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly MeterListener _listener = new();
    private readonly Meter _meter;
    private readonly Lock _lock = new();
    private readonly Dictionary<Instrument, Dictionary<string, double>> _values = [];
    private readonly Dictionary<Instrument, Dictionary<string, HistogramState>> _histograms = [];
    private readonly List<Instrument> _instruments = [];

    private sealed class HistogramState
    {
        public readonly long[] Counts = new long[Port.LatencyBuckets.Count];
        public double Sum;
        public long Count;
    }

    /// <summary>Listens to <paramref name="meter"/>'s instruments (and only that meter instance).</summary>
    public PrometheusTextWriter(Meter meter)
    {
        _meter = meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!ReferenceEquals(instrument.Meter, _meter)) return;
            lock (_lock) _instruments.Add(instrument);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.MeasurementsCompleted = (instrument, _) => { lock (_lock) _instruments.Remove(instrument); };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => OnMeasurement(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => OnMeasurement(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => OnMeasurement(i, v, tags));
        _listener.Start();
    }

    private void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string key = Labels(tags);
        lock (_lock)
        {
            if (instrument is Histogram<long> or Histogram<int> or Histogram<double>)
            {
                if (!_histograms.TryGetValue(instrument, out var series)) _histograms[instrument] = series = [];
                if (!series.TryGetValue(key, out var h)) series[key] = h = new HistogramState();
                h.Counts[Port.LatencyBuckets.IndexOfMicroseconds((long)(value * 1e6))]++;
                h.Sum += value;
                h.Count++;
                return;
            }
            if (!_values.TryGetValue(instrument, out var values)) _values[instrument] = values = [];
            bool cumulative = instrument is Counter<long> or Counter<int> or Counter<double> or UpDownCounter<long> or UpDownCounter<int> or UpDownCounter<double>;
            values[key] = cumulative ? values.GetValueOrDefault(key) + value : value;
        }
    }

    /// <summary>Reads every observable instrument and returns the exposition text.</summary>
    public string Collect()
    {
        lock (_lock)
        {
            foreach (var i in _instruments) if (i.IsObservable) _values.Remove(i);
        }
        _listener.RecordObservableInstruments();
        var sb = new StringBuilder();
        lock (_lock)
        {
            var byName = _instruments.ToDictionary(i => i.Name);
            var done = new HashSet<string>();
            foreach (var instrument in _instruments.OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                if (done.Contains(instrument.Name)) continue;
                string name = instrument.Name;
                if (name.EndsWith(".bucket", StringComparison.Ordinal))
                {
                    string stem = name[..^".bucket".Length];
                    if (byName.TryGetValue(stem + ".sum", out var sum) && byName.TryGetValue(stem + ".count", out var count))
                    {
                        WriteHistogramFamily(sb, stem, instrument, sum, count);
                        done.Add(name); done.Add(sum.Name); done.Add(count.Name);
                        continue;
                    }
                }
                if ((name.EndsWith(".sum", StringComparison.Ordinal) || name.EndsWith(".count", StringComparison.Ordinal)) &&
                    byName.ContainsKey(name[..name.LastIndexOf('.')] + ".bucket")) continue; // written with its bucket
                done.Add(name);
                if (_histograms.TryGetValue(instrument, out var hs)) { WriteHistogram(sb, instrument, hs); continue; }
                bool counter = instrument is Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double>;
                string metric = MetricName(name, instrument.Unit) + (counter ? "_total" : "");
                Header(sb, metric, instrument.Description, counter ? "counter" : "gauge");
                if (_values.TryGetValue(instrument, out var values))
                    foreach (var (labels, value) in values.OrderBy(v => v.Key, StringComparer.Ordinal))
                        sb.Append(metric).Append(labels.Length == 0 ? "" : "{" + labels + "}").Append(' ').Append(Number(value)).Append('\n');
            }
        }
        return sb.ToString();
    }

    private void WriteHistogramFamily(StringBuilder sb, string stem, Instrument bucket, Instrument sum, Instrument count)
    {
        string metric = MetricName(stem, bucket.Unit);
        Header(sb, metric, bucket.Description, "histogram");
        if (_values.TryGetValue(bucket, out var buckets))
            foreach (var (labels, value) in buckets.OrderBy(v => v.Key, BucketOrder.Instance))
                sb.Append(metric).Append("_bucket{").Append(labels).Append("} ").Append(Number(value)).Append('\n');
        if (_values.TryGetValue(sum, out var sums))
            foreach (var (labels, value) in sums.OrderBy(v => v.Key, StringComparer.Ordinal))
                sb.Append(metric).Append("_sum").Append(labels.Length == 0 ? "" : "{" + labels + "}").Append(' ').Append(Number(value)).Append('\n');
        if (_values.TryGetValue(count, out var counts))
            foreach (var (labels, value) in counts.OrderBy(v => v.Key, StringComparer.Ordinal))
                sb.Append(metric).Append("_count").Append(labels.Length == 0 ? "" : "{" + labels + "}").Append(' ').Append(Number(value)).Append('\n');
    }

    private static void WriteHistogram(StringBuilder sb, Instrument instrument, Dictionary<string, HistogramState> series)
    {
        string metric = MetricName(instrument.Name, instrument.Unit);
        Header(sb, metric, instrument.Description, "histogram");
        var bounds = Port.LatencyBuckets.UpperBoundsMicroseconds;
        foreach (var (labels, h) in series.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            string prefix = labels.Length == 0 ? "" : labels + ",";
            long cumulative = 0;
            for (int i = 0; i < h.Counts.Length; i++)
            {
                cumulative += h.Counts[i];
                string le = i < bounds.Length ? Number(bounds[i] / 1e6) : "+Inf";
                sb.Append(metric).Append("_bucket{").Append(prefix).Append("le=\"").Append(le).Append("\"} ").Append(cumulative).Append('\n');
            }
            sb.Append(metric).Append("_sum").Append(labels.Length == 0 ? "" : "{" + labels + "}").Append(' ').Append(Number(h.Sum)).Append('\n');
            sb.Append(metric).Append("_count").Append(labels.Length == 0 ? "" : "{" + labels + "}").Append(' ').Append(h.Count).Append('\n');
        }
    }

    private static void Header(StringBuilder sb, string metric, string? help, string type)
    {
        if (!string.IsNullOrEmpty(help)) sb.Append("# HELP ").Append(metric).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        sb.Append("# TYPE ").Append(metric).Append(' ').Append(type).Append('\n');
    }

    /// <summary>A Prometheus metric name for an instrument: invalid characters become underscores, the unit is appended.</summary>
    public static string MetricName(string name, string? unit)
    {
        var sb = new StringBuilder(name.Length + 8);
        if (name.Length > 0 && char.IsAsciiDigit(name[0])) sb.Append('_'); // a name may not start with a digit
        foreach (char c in name)
        {
            bool ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or ':';
            sb.Append(ok ? c : '_');
        }
        string suffix = unit switch { "By" => "_bytes", "s" => "_seconds", "ms" => "_milliseconds", _ => "" };
        if (suffix.Length > 0 && !sb.ToString().EndsWith(suffix, StringComparison.Ordinal)) sb.Append(suffix);
        return sb.ToString();
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var sorted = tags.ToArray();
        // le goes last so bucket lines read naturally.
        Array.Sort(sorted, (a, b) => a.Key == "le" ? 1 : b.Key == "le" ? -1 : string.CompareOrdinal(a.Key, b.Key));
        var sb = new StringBuilder();
        foreach (var (k, v) in sorted)
        {
            if (sb.Length > 0) sb.Append(',');
            sb.Append(MetricName(k, null)).Append("=\"");
            foreach (char c in Convert.ToString(v, Inv) ?? "")
            {
                if (c == '\\') sb.Append("\\\\");
                else if (c == '"') sb.Append("\\\"");
                else if (c == '\n') sb.Append("\\n");
                else sb.Append(c);
            }
            sb.Append('"');
        }
        return sb.ToString();
    }

    private static string Number(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", Inv);

    private sealed class BucketOrder : IComparer<string>
    {
        public static readonly BucketOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            // Same series together, then by le as a number (+Inf last).
            static (string Series, double Le) Split(string s)
            {
                int at = s.LastIndexOf("le=\"", StringComparison.Ordinal);
                if (at < 0) return (s, 0);
                string le = s[(at + 4)..^1];
                return (s[..at], le == "+Inf" ? double.PositiveInfinity : double.Parse(le, Inv));
            }
            var (sx, lx) = Split(x ?? "");
            var (sy, ly) = Split(y ?? "");
            int c = string.CompareOrdinal(sx, sy);
            return c != 0 ? c : lx.CompareTo(ly);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _listener.Dispose();
}
