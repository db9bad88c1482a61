namespace StorSharp.Port;

/// <summary>
/// The first request of an interval that did not succeed, as Storport's event 549 reports it.
/// </summary>
/// <param name="Time">When it completed (wall clock of the port).</param>
/// <param name="OperationCode">The CDB's operation code (0 for a non-SCSI function).</param>
/// <param name="Function">The SRB function.</param>
/// <param name="SrbStatus">The SRB status.</param>
/// <param name="ScsiStatus">The SCSI status byte.</param>
/// <param name="SenseKey">The sense key, when sense data came back (else 0).</param>
/// <param name="AdditionalSenseCode">ASC (else 0).</param>
/// <param name="AdditionalSenseCodeQualifier">ASCQ (else 0).</param>
/// <param name="LatencyMicroseconds">From the port accepting it to its completion.</param>
public sealed record FirstErrorRecord(
    DateTimeOffset Time,
    byte OperationCode,
    SrbFunction Function,
    SrbStatus SrbStatus,
    ScsiStatus ScsiStatus,
    byte SenseKey,
    byte AdditionalSenseCode,
    byte AdditionalSenseCodeQualifier,
    long LatencyMicroseconds);

/// <summary>
/// One LU's performance summary over an interval, modelled on Storport's event 505: a 14-bucket
/// latency histogram (<see cref="LatencyBuckets"/>) with success and failure counts and the total
/// latency per bucket, bytes moved, maximum latencies per kind, and the time requests spent
/// waiting in the port.
/// </summary>
/// <param name="Adapter">The adapter's number (RaidPortN).</param>
/// <param name="Address">Bus, target and LUN.</param>
/// <param name="Since">The start of the interval.</param>
/// <param name="Until">When the summary was taken.</param>
/// <param name="SuccessCounts">Requests that succeeded, per bucket (14).</param>
/// <param name="FailureCounts">Requests that failed, per bucket (14).</param>
/// <param name="TotalLatencyMicroseconds">The sum of latencies per bucket, successes and failures (14).</param>
/// <param name="BytesRead">Bytes moved by successful reads.</param>
/// <param name="BytesWritten">Bytes moved by successful writes.</param>
/// <param name="MaxReadLatencyMicroseconds">The slowest read.</param>
/// <param name="MaxWriteLatencyMicroseconds">The slowest write.</param>
/// <param name="MaxFlushLatencyMicroseconds">The slowest flush (SYNCHRONIZE CACHE).</param>
/// <param name="MaxUnmapLatencyMicroseconds">The slowest UNMAP.</param>
/// <param name="QueuedMicroseconds">Time requests waited in the port's queue before StartIo (summed over requests).</param>
/// <param name="BusyMicroseconds">Time requests waited after a BUSY or QUEUE FULL answer before they started again (summed over requests).</param>
/// <param name="BusyCount">Requests put back in the queue after BUSY or QUEUE FULL.</param>
/// <param name="PausedMicroseconds">Time the LU was held by a pause (its own or its adapter's).</param>
/// <param name="MaxOutstanding">The most requests the miniport held at once.</param>
/// <param name="FirstError">The first failed request of the interval (event 549), or null.</param>
public sealed record PerformanceSummary(
    int Adapter,
    ScsiAddress Address,
    DateTimeOffset Since,
    DateTimeOffset Until,
    long[] SuccessCounts,
    long[] FailureCounts,
    long[] TotalLatencyMicroseconds,
    long BytesRead,
    long BytesWritten,
    long MaxReadLatencyMicroseconds,
    long MaxWriteLatencyMicroseconds,
    long MaxFlushLatencyMicroseconds,
    long MaxUnmapLatencyMicroseconds,
    long QueuedMicroseconds,
    long BusyMicroseconds,
    long BusyCount,
    long PausedMicroseconds,
    int MaxOutstanding,
    FirstErrorRecord? FirstError)
{
    /// <summary>Every request counted (successes and failures).</summary>
    public long TotalIo => SuccessCounts.Sum() + FailureCounts.Sum();

    /// <summary>Failed requests.</summary>
    public long FailedIo => FailureCounts.Sum();

    /// <summary>The mean latency in microseconds, 0 with no requests.</summary>
    public double AverageLatencyMicroseconds => TotalIo == 0 ? 0 : (double)TotalLatencyMicroseconds.Sum() / TotalIo;
}
