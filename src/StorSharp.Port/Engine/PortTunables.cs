namespace StorSharp.Port;

/// <summary>
/// The timing rules of the port (Storport's registry tunables), set per adapter and overridable
/// per LU. Defaults are Storport's.
/// </summary>
public sealed record PortTunables
{
    /// <summary>How long the port waits before retrying a request the miniport completed with BUSY (Storport BusyPauseTime: 250 ms).</summary>
    public TimeSpan BusyPauseTime { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How many times a BUSY or QUEUE FULL request is retried before it fails (Storport BusyRetryCount: 20).</summary>
    public int BusyRetryCount { get; init; } = 20;

    /// <summary>After QUEUE FULL, the share of outstanding requests that must complete before new I/O starts (QueueFullWaitIoPercentage: 25 %).</summary>
    public int QueueFullWaitIoPercentage { get; init; } = 25;

    /// <summary>How long I/O is held after LinkDown before it fails (LinkDownTimeoutValue: 30 s, at most 600 s).</summary>
    public TimeSpan LinkDownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The timeout of a request that carries none (disk TimeOutValue default: 10 s, 1 to 255).</summary>
    public uint DefaultTimeoutSeconds { get; init; } = 10;

    /// <summary>How long a reset request may take before the port escalates to the next level.</summary>
    public TimeSpan ResetTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many times the class layer retries a request the miniport timed out (disk.sys: 4).</summary>
    public int ClassRetryCount { get; init; } = 4;

    /// <summary>The pause between class-layer retries (disk.sys: 1 s).</summary>
    public TimeSpan ClassRetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of its range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, string rule, object value)
        {
            if (!ok) throw new ArgumentException($"Port tunable {name} is {value}; it must be {rule}.", name);
        }
        Check(BusyPauseTime >= TimeSpan.Zero && BusyPauseTime <= TimeSpan.FromMinutes(1), nameof(BusyPauseTime), "between 0 and 60 s", BusyPauseTime);
        Check(BusyRetryCount is >= 0 and <= 1000, nameof(BusyRetryCount), "between 0 and 1000", BusyRetryCount);
        Check(QueueFullWaitIoPercentage is >= 1 and <= 100, nameof(QueueFullWaitIoPercentage), "between 1 and 100", QueueFullWaitIoPercentage);
        Check(LinkDownTimeout >= TimeSpan.Zero && LinkDownTimeout <= TimeSpan.FromSeconds(600), nameof(LinkDownTimeout), "between 0 and 600 s", LinkDownTimeout);
        Check(DefaultTimeoutSeconds is >= 1 and <= 255, nameof(DefaultTimeoutSeconds), "between 1 and 255", DefaultTimeoutSeconds);
        Check(ResetTimeout > TimeSpan.Zero && ResetTimeout <= TimeSpan.FromMinutes(10), nameof(ResetTimeout), "between 0 and 600 s (exclusive of 0)", ResetTimeout);
        Check(ClassRetryCount is >= 0 and <= 100, nameof(ClassRetryCount), "between 0 and 100", ClassRetryCount);
        Check(ClassRetryInterval >= TimeSpan.Zero && ClassRetryInterval <= TimeSpan.FromMinutes(1), nameof(ClassRetryInterval), "between 0 and 60 s", ClassRetryInterval);
    }
}

/// <summary>Settings of a <see cref="StoragePort"/>.</summary>
public sealed class PortOptions
{
    /// <summary>The clock every timer runs on. Tests pass a manual clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Where events go; a fresh in-memory log when not set.</summary>
    public EventLog? EventLog { get; init; }

    /// <summary>The most buses an adapter may have (SCSI_MAXIMUM_BUSES: 8; Storport allows up to 255).</summary>
    public int MaximumBuses { get; init; } = 8;

    /// <summary>
    /// The period of the port's single heartbeat that drives every timer (LU timeouts, busy
    /// pauses, link-down holds, class retries). Timers fire within one period of their due time.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The tunables every adapter starts with.</summary>
    public PortTunables Tunables { get; init; } = new();

    /// <summary>
    /// How often every LU with I/O in the interval writes its performance summary (event 505, and
    /// 549 when a request failed) to the event log; <see cref="TimeSpan.Zero"/> turns the periodic
    /// summary off (<see cref="StoragePort.WritePerformanceSummaries"/> still writes one on demand).
    /// </summary>
    public TimeSpan PerformanceSummaryInterval { get; init; } = TimeSpan.FromSeconds(60);
}
