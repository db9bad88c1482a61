namespace StorSharp.Port;

/// <summary>
/// The port driver: the Storport role. It owns the adapters, the clock and the event log.
/// Add an adapter with a miniport registration, then submit SRBs to it.
/// </summary>
/// <example>
/// <code>
/// await using var port = new StoragePort();
/// var adapter = await port.AddAdapterAsync(ScsiDiskMiniport.Registration(disks));
/// var srb = SrbPool.Shared.Rent();
/// ... fill the CDB ...
/// await adapter.ExecuteAsync(srb);
/// srb.Release();
/// </code>
/// </example>
public sealed class StoragePort : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<Adapter> _adapters = [];
    private int _nextNumber;

    /// <summary>Creates a port with the given options.</summary>
    public StoragePort(PortOptions? options = null)
    {
        Options = options ?? new PortOptions();
        if (Options.MaximumBuses is < 1 or > 255)
            throw new ArgumentException($"PortOptions.MaximumBuses is {Options.MaximumBuses}; it must be between 1 and 255.", nameof(options));
        if (Options.HeartbeatInterval <= TimeSpan.Zero)
            throw new ArgumentException("PortOptions.HeartbeatInterval must be positive.", nameof(options));
        Options.Tunables.Validate();
        if (Options.PerformanceSummaryInterval < TimeSpan.Zero)
            throw new ArgumentException("PortOptions.PerformanceSummaryInterval must not be negative (zero turns it off).", nameof(options));
        Events = Options.EventLog ?? new EventLog();
        Events.Logged += PortEventMirror.OnLogged;
        if (Options.PerformanceSummaryInterval > TimeSpan.Zero)
            _summaryTimer = Time.CreateTimer(static s => ((StoragePort)s!).WritePerformanceSummaries(onlyActive: true), this,
                Options.PerformanceSummaryInterval, Options.PerformanceSummaryInterval);
    }

    private readonly ITimer? _summaryTimer;
    private IRequestTraceSink? _traceSink;

    /// <summary>
    /// Where finished requests and BUSY answers go for tracing (a trace recorder); null for none.
    /// Reading it is one volatile load per request, so leaving it null costs nothing measurable.
    /// </summary>
    public IRequestTraceSink? TraceSink
    {
        get => Volatile.Read(ref _traceSink);
        set => Volatile.Write(ref _traceSink, value);
    }

    /// <summary>The performance summary of every LU on every adapter (see <see cref="LogicalUnitPerformance.Snapshot"/>).</summary>
    /// <param name="reset">Start a new interval for each LU.</param>
    public IReadOnlyList<PerformanceSummary> PerformanceSummaries(bool reset = false)
    {
        var list = new List<PerformanceSummary>();
        foreach (var adapter in Adapters)
            foreach (var lu in adapter.LogicalUnits)
                list.Add(lu.Performance.Snapshot(reset));
        return list;
    }

    /// <summary>
    /// Writes each LU's performance summary to the event log as event 505, and its first error of
    /// the interval as event 549, then starts a new interval. The periodic timer
    /// (<see cref="PortOptions.PerformanceSummaryInterval"/>) calls it with <paramref name="onlyActive"/>
    /// so idle LUs do not fill the log.
    /// </summary>
    /// <returns>The summaries written.</returns>
    public IReadOnlyList<PerformanceSummary> WritePerformanceSummaries(bool onlyActive = false)
    {
        var written = new List<PerformanceSummary>();
        try
        {
            foreach (var adapter in Adapters)
                foreach (var lu in adapter.LogicalUnits)
                {
                    var summary = lu.Performance.Snapshot(reset: true);
                    if (onlyActive && summary.TotalIo == 0) continue;
                    PerformanceEvents.Write(adapter, summary);
                    written.Add(summary);
                }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The log file went away (a full disk, shutdown): the summary is lost, the port goes on.
        }
        return written;
    }

    /// <summary>The options the port runs with.</summary>
    public PortOptions Options { get; }

    /// <summary>The clock.</summary>
    public TimeProvider Time => Options.Time;

    /// <summary>The event log (129, 153, link, LUN and contract events).</summary>
    public EventLog Events { get; }

    /// <summary>The adapters, in the order they were added.</summary>
    public IReadOnlyList<Adapter> Adapters { get { lock (_lock) return [.. _adapters]; } }

    /// <summary>
    /// Adds an adapter: registers the miniport (stage 1), calls FindAdapter (stage 2) and
    /// Initialize (stage 3), asks QuerySupportedControlTypes, then enumerates the buses.
    /// </summary>
    /// <param name="registration">The miniport's registration record.</param>
    /// <param name="arguments">A free-form string passed to FindAdapter.</param>
    /// <param name="tunables">The adapter's tunables; the port's when null.</param>
    /// <exception cref="AdapterStartException">FindAdapter or Initialize failed, or the configuration is out of range.</exception>
    public async Task<Adapter> AddAdapterAsync(VirtualMiniportRegistration registration, string? arguments = null, PortTunables? tunables = null)
    {
        ArgumentNullException.ThrowIfNull(registration);
        tunables ??= Options.Tunables;
        tunables.Validate();
        int number;
        lock (_lock) number = _nextNumber++;
        var adapter = new Adapter(this, number, registration, tunables);
        // Listed while it starts (state Starting), so management sees it; I/O submitted before
        // Initialize has finished is refused with a clear error rather than reaching StartIo.
        lock (_lock) _adapters.Add(adapter);
        try { adapter.Start(arguments); }
        catch
        {
            lock (_lock) _adapters.Remove(adapter);
            throw;
        }
        await adapter.RescanAsync().ConfigureAwait(false);
        return adapter;
    }

    /// <summary>Stops an adapter (drain, flush, StopAdapter), frees it, and forgets it.</summary>
    public async Task RemoveAdapterAsync(Adapter adapter)
    {
        lock (_lock) if (!_adapters.Remove(adapter)) return;
        await adapter.StopAsync().ConfigureAwait(false);
        adapter.Free();
    }

    /// <summary>Stops and frees every adapter.</summary>
    public async ValueTask DisposeAsync()
    {
        _summaryTimer?.Dispose();
        foreach (var adapter in Adapters) await RemoveAdapterAsync(adapter).ConfigureAwait(false);
        Events.Logged -= PortEventMirror.OnLogged;
        if (Options.EventLog is null) Events.Dispose();
    }
}

/// <summary>An adapter could not start: FindAdapter or Initialize failed, or its configuration is out of range.</summary>
public sealed class AdapterStartException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AdapterStartException(string message, Exception? inner = null) : base(message, inner) { }
}
