namespace StorSharp.Port;

/// <summary>
/// The live counters behind an LU's <see cref="PerformanceSummary"/> (Storport event 505). Every
/// completed request updates them with a few interlocked operations and no allocation; a summary is
/// a snapshot, optionally starting a new interval.
/// </summary>
public sealed class LogicalUnitPerformance
{
    private readonly LogicalUnit _unit;
    private readonly long[] _bounds;
    private readonly long _frequency;
    private readonly long[] _success = new long[LatencyBuckets.Count];
    private readonly long[] _failure = new long[LatencyBuckets.Count];
    private readonly long[] _latency = new long[LatencyBuckets.Count];
    private long _bytesRead, _bytesWritten;
    private long _maxRead, _maxWrite, _maxFlush, _maxUnmap;
    private long _queued, _busy, _busyCount, _paused;
    private int _maxOutstanding;
    private FirstErrorRecord? _firstError;
    private DateTimeOffset _since;

    // Totals since the LU appeared (never reset): the live dashboard and /metrics read these.
    private long _totalCompleted, _totalFailed, _totalBytesRead, _totalBytesWritten, _totalLatency;
    private readonly long[] _totalBuckets = new long[LatencyBuckets.Count];

    internal LogicalUnitPerformance(LogicalUnit unit)
    {
        _unit = unit;
        _frequency = unit.Adapter.Time.TimestampFrequency;
        _bounds = LatencyBuckets.UpperBoundsInTicks(_frequency);
        _since = unit.Adapter.Time.GetUtcNow();
    }

    /// <summary>Requests completed since the LU appeared.</summary>
    public long TotalCompleted => Volatile.Read(ref _totalCompleted);

    /// <summary>Of those, requests that failed.</summary>
    public long TotalFailed => Volatile.Read(ref _totalFailed);

    /// <summary>Bytes read by successful reads since the LU appeared.</summary>
    public long TotalBytesRead => Volatile.Read(ref _totalBytesRead);

    /// <summary>Bytes written by successful writes since the LU appeared.</summary>
    public long TotalBytesWritten => Volatile.Read(ref _totalBytesWritten);

    /// <summary>The sum of every request's latency since the LU appeared, in seconds.</summary>
    public double TotalLatencySeconds => (double)Volatile.Read(ref _totalLatency) / _frequency;

    /// <summary>Requests per latency bucket since the LU appeared (successes and failures; a copy).</summary>
    public long[] TotalBucketCounts()
    {
        var copy = new long[LatencyBuckets.Count];
        for (int i = 0; i < copy.Length; i++) copy[i] = Volatile.Read(ref _totalBuckets[i]);
        return copy;
    }

    /// <summary>
    /// Whether the statistics count a request as a success: SUCCESS, or DATA_OVERRUN with GOOD
    /// status (a transfer shorter than the buffer, which SPC allows: an allocation length larger
    /// than the data, as INQUIRY and REPORT LUNS are often sent).
    /// </summary>
    public static bool CountsAsSuccess(SrbStatus status, ScsiStatus scsiStatus) =>
        status == SrbStatus.Success || (status == SrbStatus.DataOverrun && scsiStatus == ScsiStatus.Good);

    internal void OnCompleted(Srb srb, long latencyTicks)
    {
        if (latencyTicks < 0) latencyTicks = 0;
        int bucket = LatencyBuckets.IndexOf(latencyTicks, _bounds);
        bool ok = CountsAsSuccess(srb.Status, srb.ScsiStatus);
        Interlocked.Increment(ref ok ? ref _success[bucket] : ref _failure[bucket]);
        Interlocked.Add(ref _latency[bucket], latencyTicks);
        Interlocked.Increment(ref _totalCompleted);
        Interlocked.Increment(ref _totalBuckets[bucket]);
        Interlocked.Add(ref _totalLatency, latencyTicks);
        if (!ok) Interlocked.Increment(ref _totalFailed);
        var kind = OperationClassifier.Classify(srb);
        switch (kind)
        {
            case OperationClass.Read:
                Max(ref _maxRead, latencyTicks);
                if (ok) { Interlocked.Add(ref _bytesRead, srb.DataTransferLength); Interlocked.Add(ref _totalBytesRead, srb.DataTransferLength); }
                break;
            case OperationClass.Write:
                Max(ref _maxWrite, latencyTicks);
                if (ok) { Interlocked.Add(ref _bytesWritten, srb.DataTransferLength); Interlocked.Add(ref _totalBytesWritten, srb.DataTransferLength); }
                break;
            case OperationClass.Flush: Max(ref _maxFlush, latencyTicks); break;
            case OperationClass.Unmap: Max(ref _maxUnmap, latencyTicks); break;
        }
        if (!ok && Volatile.Read(ref _firstError) is null) RecordFirstError(srb, latencyTicks);
    }

    private void RecordFirstError(Srb srb, long latencyTicks)
    {
        // Once per interval at most: the record is the only allocation, and only on a failure.
        var sense = srb.SenseData;
        byte key = 0, asc = 0, ascq = 0;
        if (sense.Length >= 14 && (sense[0] & 0x7F) is 0x70 or 0x71) { key = (byte)(sense[2] & 0x0F); asc = sense[12]; ascq = sense[13]; }
        else if (sense.Length >= 4 && (sense[0] & 0x7F) is 0x72 or 0x73) { key = (byte)(sense[1] & 0x0F); asc = sense[2]; ascq = sense[3]; }
        var record = new FirstErrorRecord(_unit.Adapter.Time.GetUtcNow(), srb.Function == SrbFunction.ExecuteScsi ? srb.OperationCode : (byte)0,
            srb.Function, srb.Status, srb.ScsiStatus, key, asc, ascq, ToMicroseconds(latencyTicks));
        Interlocked.CompareExchange(ref _firstError, record, null);
    }

    internal void OnStarted(Srb srb, long now)
    {
        if (srb.RequeuedTimestamp != 0) { Interlocked.Add(ref _busy, now - srb.RequeuedTimestamp); srb.RequeuedTimestamp = 0; }
        else Interlocked.Add(ref _queued, now - srb.SubmitTimestamp);
    }

    internal void OnOutstanding(int outstanding)
    {
        int seen = Volatile.Read(ref _maxOutstanding);
        while (outstanding > seen)
        {
            int was = Interlocked.CompareExchange(ref _maxOutstanding, outstanding, seen);
            if (was == seen) return;
            seen = was;
        }
    }

    internal void OnBusy() => Interlocked.Increment(ref _busyCount);

    internal void OnPaused(long ticks)
    {
        if (ticks > 0) Interlocked.Add(ref _paused, ticks);
    }

    private static void Max(ref long field, long value)
    {
        long seen = Volatile.Read(ref field);
        while (value > seen)
        {
            long was = Interlocked.CompareExchange(ref field, value, seen);
            if (was == seen) return;
            seen = was;
        }
    }

    private long ToMicroseconds(long ticks) => (long)((decimal)ticks * 1_000_000m / _frequency);

    /// <summary>
    /// The summary of the interval so far. With <paramref name="reset"/>, a new interval starts
    /// (a request finishing at that very moment lands in one interval or the other, never both).
    /// </summary>
    public PerformanceSummary Snapshot(bool reset = false)
    {
        long Take(ref long field) => reset ? Interlocked.Exchange(ref field, 0) : Volatile.Read(ref field);
        var success = new long[LatencyBuckets.Count];
        var failure = new long[LatencyBuckets.Count];
        var latency = new long[LatencyBuckets.Count];
        for (int i = 0; i < LatencyBuckets.Count; i++)
        {
            success[i] = Take(ref _success[i]);
            failure[i] = Take(ref _failure[i]);
            latency[i] = ToMicroseconds(Take(ref _latency[i]));
        }
        var now = _unit.Adapter.Time.GetUtcNow();
        var since = _since;
        var summary = new PerformanceSummary(
            _unit.Adapter.Number, _unit.Address, since, now, success, failure, latency,
            Take(ref _bytesRead), Take(ref _bytesWritten),
            ToMicroseconds(Take(ref _maxRead)), ToMicroseconds(Take(ref _maxWrite)), ToMicroseconds(Take(ref _maxFlush)), ToMicroseconds(Take(ref _maxUnmap)),
            ToMicroseconds(Take(ref _queued)), ToMicroseconds(Take(ref _busy)), Take(ref _busyCount), ToMicroseconds(Take(ref _paused)),
            reset ? Interlocked.Exchange(ref _maxOutstanding, 0) : Volatile.Read(ref _maxOutstanding),
            reset ? Interlocked.Exchange(ref _firstError, null) : Volatile.Read(ref _firstError));
        if (reset) _since = now;
        return summary;
    }
}
