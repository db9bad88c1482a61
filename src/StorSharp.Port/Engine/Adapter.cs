using System.Collections.Frozen;

namespace StorSharp.Port;

/// <summary>The life stages of an adapter.</summary>
public enum AdapterState
{
    /// <summary>Between registration and the end of Initialize: no I/O yet.</summary>
    Starting,
    /// <summary>Accepting I/O.</summary>
    Running,
    /// <summary>Draining for a stop: new I/O is refused.</summary>
    Stopping,
    /// <summary>Stopped (StopAdapter done); may be restarted.</summary>
    Stopped,
    /// <summary>Resources freed; the adapter is gone.</summary>
    Removed,
}

/// <summary>
/// One adapter (Storport's RAID_ADAPTER_EXTENSION, <c>\Device\RaidPortN</c>): a miniport
/// instance, its configuration, its buses, targets and LUs, and the port machinery around them.
/// </summary>
public sealed class Adapter
{
    [ThreadStatic] private static int t_dispatchDepth;
    private const int MaxInlineDispatchDepth = 8;

    private readonly Lock _lock = new();
    private readonly PortServices _services;
    private readonly ResetLadder _resets;
    private readonly List<Srb> _delayed = [];
    private Dictionary<ScsiAddress, LogicalUnit> _units = [];
    private LogicalUnit[] _unitArray = [];
    private ITimer? _heartbeat;
    private volatile AdapterState _state = AdapterState.Starting;
    private PortTunables _tunables;

    // Adapter-wide holds, guarded by _lock (read lock-free through _held).
    private bool _paused;
    private long _pausedSince;
    private long _pausedUntil;
    private int _busyRemaining;
    private bool _linkDown;
    private long _linkDownSince;
    private bool _linkDownExpired;
    private volatile bool _held;
    private long _active; // requests between Submit and completion
    private TaskCompletionSource? _drained;

    internal Adapter(StoragePort port, int number, VirtualMiniportRegistration registration, PortTunables tunables)
    {
        Port = port;
        Number = number;
        Name = $"RaidPort{number}";
        DeviceName = $@"\Device\RaidPort{number}";
        Registration = registration;
        _tunables = tunables;
        _services = new PortServices(this);
        _resets = new ResetLadder(this);
        Miniport = registration.CreateMiniport() ?? throw new AdapterStartException($"{registration.Name}: CreateMiniport returned null.");
    }

    /// <summary>The port the adapter belongs to.</summary>
    public StoragePort Port { get; }

    /// <summary>The adapter's number (N in RaidPortN).</summary>
    public int Number { get; }

    /// <summary>The adapter's short name, <c>RaidPortN</c>.</summary>
    public string Name { get; }

    /// <summary>The device name events carry, <c>\Device\RaidPortN</c>.</summary>
    public string DeviceName { get; }

    /// <summary>The miniport's registration record.</summary>
    public VirtualMiniportRegistration Registration { get; }

    /// <summary>The miniport instance (the adapter's device extension).</summary>
    public IVirtualMiniport Miniport { get; }

    /// <summary>What FindAdapter reported.</summary>
    public PortConfiguration Configuration { get; private set; } = new();

    /// <summary>The adapter control types the miniport supports (asked before the first I/O).</summary>
    public FrozenSet<AdapterControlType> SupportedControlTypes { get; private set; } = FrozenSet<AdapterControlType>.Empty;

    /// <summary>The life stage.</summary>
    public AdapterState State => _state;

    /// <summary>The port services this adapter offers its miniport (also usable by management code).</summary>
    public IPortServices Services => _services;

    /// <summary>The adapter's tunables; LUs start with these.</summary>
    public PortTunables Tunables
    {
        get => Volatile.Read(ref _tunables);
        set { ArgumentNullException.ThrowIfNull(value); value.Validate(); Volatile.Write(ref _tunables, value); }
    }

    /// <summary>The clock.</summary>
    public TimeProvider Time => Port.Time;

    /// <summary>The event log.</summary>
    public EventLog Events => Port.Events;

    /// <summary>True while the link is down (LinkDown without LinkUp).</summary>
    public bool IsLinkDown { get { lock (_lock) return _linkDown; } }

    /// <summary>The logical units found by the last enumeration, by address.</summary>
    public IReadOnlyList<LogicalUnit> LogicalUnits => Volatile.Read(ref _unitArray);

    /// <summary>The LU at <paramref name="address"/>, or null.</summary>
    public LogicalUnit? GetLogicalUnit(ScsiAddress address) =>
        Volatile.Read(ref _units).TryGetValue(address, out var lu) ? lu : null;

    // ------------------------------------------------------------------ start and stop

    internal void Start(string? arguments)
    {
        (Miniport as IMiniportTracing)?.InitializeTracing(Name);
        var config = new PortConfiguration();
        FindAdapterResult found;
        try { found = Miniport.FindAdapter(_services, config, arguments); }
        catch (Exception ex) { throw new AdapterStartException($"{Registration.Name} on {Name}: FindAdapter threw: {ex.Message}", ex); }
        if (found != FindAdapterResult.Found)
            throw new AdapterStartException($"{Registration.Name} on {Name}: FindAdapter returned {found}.");
        ValidateConfiguration(config);
        Configuration = config;
        bool initialized;
        try { initialized = Miniport.Initialize(); }
        catch (Exception ex) { throw new AdapterStartException($"{Registration.Name} on {Name}: Initialize threw: {ex.Message}", ex); }
        if (!initialized) throw new AdapterStartException($"{Registration.Name} on {Name}: Initialize returned false.");
        var supported = new HashSet<AdapterControlType>();
        Miniport.AdapterControl(AdapterControlType.QuerySupportedControlTypes, supported);
        SupportedControlTypes = supported.ToFrozenSet();
        _heartbeat ??= Time.CreateTimer(static s => ((Adapter)s!).OnHeartbeat(), this, Port.Options.HeartbeatInterval, Port.Options.HeartbeatInterval);
        _state = AdapterState.Running;
        Log(StorageEventIds.AdapterStarted, EventLevel.Information, $"Adapter {DeviceName} ({Registration.Name}) started with {config.NumberOfBuses} bus(es).");
    }

    private void ValidateConfiguration(PortConfiguration c)
    {
        int maxBuses = Port.Options.MaximumBuses;
        if (c.NumberOfBuses > maxBuses)
        {
            var message = $"The Storport miniport driver {Registration.Name} on {DeviceName} is trying to use more than {maxBuses} SCSI buses " +
                          $"(it asked for {c.NumberOfBuses}). This number of buses exceeds the supported maximum; " +
                          $"raise PortOptions.MaximumBuses (up to 255) to allow it.";
            Log(StorageEventIds.TooManyBuses, EventLevel.Error, message, ("NumberOfBuses", c.NumberOfBuses.ToString()), ("MaximumBuses", maxBuses.ToString()));
            throw new AdapterStartException(message);
        }
        static void Check(bool ok, string adapter, string what)
        {
            if (!ok) throw new AdapterStartException($"{adapter}: FindAdapter set {what}.");
        }
        string who = $"{Registration.Name} on {DeviceName}";
        Check(c.NumberOfBuses >= 1, who, $"NumberOfBuses = {c.NumberOfBuses}; it must be at least 1");
        Check(c.MaximumNumberOfTargets is >= 1 and <= 255, who, $"MaximumNumberOfTargets = {c.MaximumNumberOfTargets}; it must be 1 to 255");
        Check(c.MaximumNumberOfLogicalUnits is >= 1 and <= 255, who, $"MaximumNumberOfLogicalUnits = {c.MaximumNumberOfLogicalUnits}; it must be 1 to 255");
        Check(c.DefaultQueueDepth is >= 1 and <= 255, who, $"DefaultQueueDepth = {c.DefaultQueueDepth}; it must be 1 to 255");
        Check(c.MaximumTransferLength > 0, who, $"MaximumTransferLength = {c.MaximumTransferLength}; it must be positive");
        Check(c.NumberOfPhysicalBreaks > 0, who, $"NumberOfPhysicalBreaks = {c.NumberOfPhysicalBreaks}; it must be positive");
        Check(c.AlignmentMask >= 0 && (c.AlignmentMask & (c.AlignmentMask + 1)) == 0, who, $"AlignmentMask = {c.AlignmentMask}; it must be 2^n - 1");
        Check(c.IoTimeoutValue <= 255, who, $"IoTimeoutValue = {c.IoTimeoutValue}; it must be 0 to 255 seconds");
    }

    /// <summary>
    /// Stops the adapter: refuses new I/O, waits for outstanding I/O to drain, sends a FLUSH to
    /// every LU, then AdapterControl(StopAdapter).
    /// </summary>
    public async Task StopAsync()
    {
        if (_state != AdapterState.Running) return;
        _state = AdapterState.Stopping;
        // Fault injection and pauses end with the adapter: stalled requests are released and
        // paused LUs resume, so the drain and the flushes cannot hang.
        foreach (var lu in LogicalUnits)
        {
            if (lu.Faults is not null) lu.SetFaults(null);
            if (lu.IsPaused) { lu.Resume(); Dispatch(lu); }
        }
        Task drained;
        lock (_lock)
        {
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            drained = _drained.Task;
            if (Interlocked.Read(ref _active) == 0) _drained.TrySetResult();
        }
        await drained.ConfigureAwait(false);
        foreach (var lu in LogicalUnits)
        {
            var srb = SrbPool.Shared.Rent();
            srb.Function = SrbFunction.Flush;
            srb.Address = lu.Address;
            await SubmitInternalAsync(srb, lu).ConfigureAwait(false);
            srb.Release();
        }
        Miniport.AdapterControl(AdapterControlType.StopAdapter, new HashSet<AdapterControlType>());
        _state = AdapterState.Stopped;
        Log(StorageEventIds.AdapterStopped, EventLevel.Information, $"Adapter {DeviceName} stopped.");
    }

    /// <summary>
    /// Restarts a stopped adapter with AdapterControl(RestartAdapter), or, when the miniport does
    /// not support it, by running FindAdapter and Initialize again.
    /// </summary>
    public async Task RestartAsync()
    {
        if (_state != AdapterState.Stopped) throw new InvalidOperationException($"{DeviceName} is {_state}; only a stopped adapter restarts.");
        if (SupportedControlTypes.Contains(AdapterControlType.RestartAdapter) &&
            Miniport.AdapterControl(AdapterControlType.RestartAdapter, new HashSet<AdapterControlType>()) == ControlStatus.Success)
        {
            _state = AdapterState.Running;
            Log(StorageEventIds.AdapterStarted, EventLevel.Information, $"Adapter {DeviceName} restarted.");
        }
        else
        {
            _state = AdapterState.Starting;
            Start(null);
        }
        await RescanAsync().ConfigureAwait(false);
    }

    internal void Free()
    {
        _heartbeat?.Dispose();
        _heartbeat = null;
        Miniport.FreeAdapterResources();
        (Miniport as IMiniportTracing)?.CleanupTracing();
        _state = AdapterState.Removed;
    }

    // ------------------------------------------------------------------ enumeration

    /// <summary>
    /// Enumerates every bus again (what BusChangeDetected triggers) and returns the LUs found: new
    /// LUs start (event 1030), vanished ones are removed (event 1031, orderly or surprise, see
    /// <see cref="UnitRemoval"/>). Enumerations run one at a time, so awaiting this after a
    /// miniport's BusChangeDetected returns once that change has been taken in.
    /// </summary>
    public Task<IReadOnlyList<LogicalUnit>> RescanAsync() => BusEnumerator.ScanAsync(this, pathId: null);

    /// <summary>Serializes enumerations.</summary>
    internal SemaphoreSlim ScanLock { get; } = new(1, 1);

    internal LogicalUnit CreateUnit(ScsiAddress address) =>
        new(this, address, Configuration.DefaultQueueDepth, Tunables, Registration.SpecificLuExtensionSize);

    internal void PublishUnits(Dictionary<ScsiAddress, LogicalUnit> units)
    {
        lock (_lock)
        {
            Volatile.Write(ref _units, units);
            Volatile.Write(ref _unitArray, [.. units.Values.OrderBy(u => u.Address.PathId).ThenBy(u => u.Address.TargetId).ThenBy(u => u.Address.Lun)]);
        }
    }

    // ------------------------------------------------------------------ submission

    /// <summary>
    /// Submits a request. It completes exactly once, through <see cref="Srb.CompletionHandler"/>
    /// (inline or on another thread). Never blocks.
    /// </summary>
    /// <exception cref="InvalidOperationException">The adapter has not finished starting, or the SRB is already in flight.</exception>
    public void Submit(Srb srb)
    {
        ArgumentNullException.ThrowIfNull(srb);
        var state = _state;
        if (state == AdapterState.Starting)
            throw new InvalidOperationException($"{DeviceName}: I/O was submitted before Initialize finished; the port calls StartIo only on a running adapter.");
        if (srb.State is (int)SrbState.Queued or (int)SrbState.Outstanding or (int)SrbState.InBuildIo || Volatile.Read(ref srb.MiniportOwned) != 0)
            throw new InvalidOperationException($"{srb} is already in flight; an SRB is submitted again only after it completes.");
        srb.Internal = false;
        srb.CompletedByPort = false;
        srb.ResetByPort = false;
        srb.ResetByRequest = false;
        srb.SubmitTimestamp = Time.GetTimestamp();
        srb.BackendDoneTimestamp = 0;
        srb.RequeuedTimestamp = 0;
        if (PortEventSource.Log.IsIoEnabled())
            PortEventSource.Log.Queued(PortEventSource.PackAddress(Number, srb.Address), (long)srb.RequestId, srb.OperationCode);
        Interlocked.Increment(ref _active);
        if (state != AdapterState.Running) { CompleteBeforeQueue(srb, SrbStatus.NoHba); return; }

        switch (srb.Function)
        {
            case SrbFunction.AbortCommand: _resets.Abort(srb); return;
            case SrbFunction.ResetLogicalUnit: _resets.Start(ResetLevel.LogicalUnit, srb.Address, srb); return;
            case SrbFunction.ResetDevice: _resets.Start(ResetLevel.Target, srb.Address, srb); return;
            case SrbFunction.ResetBus: _resets.Start(ResetLevel.Bus, srb.Address, srb); return;
        }

        var lu = GetLogicalUnit(srb.Address);
        if (lu is null) { CompleteBeforeQueue(srb, AddressStatus(srb.Address)); return; }
        SubmitTo(lu, srb);
    }

    /// <summary>Submits a request and returns a task that completes with it (no allocation: the SRB is the task source).</summary>
    public ValueTask ExecuteAsync(Srb srb)
    {
        srb.CompletionHandler = null;
        var task = srb.AsValueTask();
        Submit(srb);
        return task;
    }

    private SrbStatus AddressStatus(ScsiAddress a) =>
        a.PathId >= Configuration.NumberOfBuses ? SrbStatus.InvalidPathId :
        a.TargetId >= Configuration.MaximumNumberOfTargets ? SrbStatus.InvalidTargetId :
        a.Lun >= Configuration.MaximumNumberOfLogicalUnits ? SrbStatus.InvalidLun :
        SrbStatus.NoDevice;

    /// <summary>Sends a request to an LU object directly (enumeration uses units not yet published).</summary>
    internal ValueTask SubmitInternalAsync(Srb srb, LogicalUnit lu)
    {
        srb.CompletionHandler = null;
        var task = srb.AsValueTask();
        srb.SubmitTimestamp = Time.GetTimestamp();
        Interlocked.Increment(ref _active);
        SubmitTo(lu, srb);
        return task;
    }

    private void SubmitTo(LogicalUnit lu, Srb srb)
    {
        var c = Configuration;
        if (srb.Data.Length > c.MaximumTransferLength || srb.Data.Count > c.NumberOfPhysicalBreaks)
        {
            CompleteBeforeQueue(srb, SrbStatus.InvalidRequest);
            return;
        }
        if (srb.DataTransferLength == 0 && srb.Data.Length > 0) srb.DataTransferLength = (int)srb.Data.Length;
        if (srb.TimeOutValue == 0) srb.TimeOutValue = c.IoTimeoutValue != 0 ? c.IoTimeoutValue : lu.Tunables.DefaultTimeoutSeconds;
        srb.Unit = lu;
        srb.PrepareExtension(Registration.SrbExtensionSize);

        if (Volatile.Read(ref _linkDownExpired)) { CompleteBeforeQueue(srb, SrbStatus.LinkDown); return; }

        if (Miniport is IMiniportBuildIo buildIo)
        {
            // HwStorBuildIo: lock-free and concurrent, before the request is queued.
            srb.State = (int)SrbState.InBuildIo;
            bool proceed;
            try { proceed = buildIo.BuildIo(srb); }
            catch (Exception ex) { MiniportThrew("BuildIo", srb, ex); proceed = false; TryCompleteFromBuildIo(srb, SrbStatus.InternalError); }
            if (!proceed) return; // the miniport completed it in BuildIo
            if (Interlocked.CompareExchange(ref srb.State, (int)SrbState.Building, (int)SrbState.InBuildIo) != (int)SrbState.InBuildIo)
                return; // completed during BuildIo although it returned true: already handed back
        }
        if (!lu.Enqueue(srb)) { CompleteBeforeQueue(srb, SrbStatus.NoDevice); return; }
        Dispatch(lu);
    }

    private void TryCompleteFromBuildIo(Srb srb, SrbStatus status)
    {
        if (Interlocked.CompareExchange(ref srb.State, (int)SrbState.Completed, (int)SrbState.InBuildIo) == (int)SrbState.InBuildIo)
        {
            srb.Status = status;
            Finish(srb);
        }
    }

    private void CompleteBeforeQueue(Srb srb, SrbStatus status)
    {
        srb.Status = status;
        srb.State = (int)SrbState.Completed;
        srb.CompletedByPort = true;
        Finish(srb);
    }

    // ------------------------------------------------------------------ dispatch

    /// <summary>Starts every request of <paramref name="lu"/> that may start now.</summary>
    internal void Dispatch(LogicalUnit lu)
    {
        if (t_dispatchDepth >= MaxInlineDispatchDepth)
        {
            // Inline completions nest StartIo -> complete -> dispatch -> StartIo; past a few levels
            // hand the rest to the thread pool so the stack stays flat.
            ThreadPool.UnsafeQueueUserWorkItem(static lu => lu.Adapter.Dispatch(lu), lu, preferLocal: true);
            return;
        }
        t_dispatchDepth++;
        try
        {
            while (lu.TryTakeNext(Time.GetTimestamp(), _held) is { } srb) StartIo(srb);
        }
        finally { t_dispatchDepth--; }
    }

    private void DispatchAll()
    {
        foreach (var lu in LogicalUnits) Dispatch(lu);
    }

    private void StartIo(Srb srb)
    {
        if (PortEventSource.Log.IsIoEnabled())
            PortEventSource.Log.Started(PortEventSource.PackAddress(Number, srb.Address), (long)srb.RequestId, TicksToMicroseconds(srb.StartTimestamp - srb.SubmitTimestamp));
        Interlocked.Increment(ref srb.RefCount);
        Volatile.Write(ref srb.MiniportOwned, 1);
        // The LU's fault-injection filter (null unless faults are set: one field read, no hop).
        if (srb.Unit?.Faults is { } filter && filter.TryIntercept(srb)) return;
        CallMiniport(srb);
    }

    /// <summary>Hands an outstanding request to the miniport's StartIo (the filter calls this for what it lets through).</summary>
    internal void CallMiniport(Srb srb)
    {
        bool accepted;
        try { accepted = Miniport.StartIo(srb); }
        catch (Exception ex)
        {
            MiniportThrew("StartIo", srb, ex);
            accepted = false;
        }
        if (!accepted && Volatile.Read(ref srb.State) == (int)SrbState.Outstanding)
        {
            // Not accepted: treat as BUSY so the port pauses and retries it (Storport does the same
            // when HwStorStartIo returns FALSE).
            srb.Status = SrbStatus.Busy;
            OnMiniportCompleted(srb);
        }
    }

    private void MiniportThrew(string routine, Srb srb, Exception ex) =>
        Log(StorageEventIds.ContractViolation, EventLevel.Error,
            $"The miniport {Registration.Name} threw from {routine} for {srb}: {ex.GetType().Name}: {ex.Message}",
            ("Address", srb.Address.ToString()), ("Routine", routine));

    // ------------------------------------------------------------------ completion

    /// <summary>RequestComplete from the miniport.</summary>
    internal void OnMiniportCompleted(Srb srb)
    {
        if (srb.Internal) { _resets.OnInternalCompleted(srb); return; }
        int previous = Interlocked.CompareExchange(ref srb.State, (int)SrbState.Completed, (int)SrbState.Outstanding);
        if (previous == (int)SrbState.InBuildIo)
        {
            TryCompleteFromBuildIo(srb, srb.Status);
            return;
        }
        if (previous != (int)SrbState.Outstanding)
        {
            if (srb.CompletedByPort && Interlocked.Exchange(ref srb.MiniportOwned, 0) == 1)
            {
                srb.DropReference(); // a late completion of a request the port already finished: expected after a reset
                return;
            }
            ReportBadCompletion(srb, previous);
            return;
        }
        if (Interlocked.Exchange(ref srb.MiniportOwned, 0) == 1) srb.DropReference();
        var lu = srb.Unit!;
        var now = Time.GetTimestamp();
        AdapterCompletionAccounting();
        if (srb.Status == SrbStatus.Pending)
        {
            ReportBadCompletion(srb, previous, "with SrbStatus PENDING");
            srb.Status = SrbStatus.InternalError;
        }
        if (srb.ScsiStatus != ScsiStatus.Good && srb.Status == SrbStatus.Success) srb.Status = SrbStatus.Error;
        bool queueFull = srb.ScsiStatus == ScsiStatus.TaskSetFull;
        if (lu.RemoveCompleted(srb, now))
        {
            srb.RequeuedTimestamp = now;
            lu.Performance.OnBusy();
            if (PortEventSource.Log.IsEnabled())
                PortEventSource.Log.Busy(PortEventSource.PackAddress(Number, srb.Address), (long)srb.RequestId, queueFull ? 1 : 0, srb.BusyRetries);
            Port.TraceSink?.OnBusy(this, srb, queueFull);
            Dispatch(lu); // requeued after BUSY / QUEUE FULL; starts when the hold lifts
            return;
        }
        Finish(srb);
        Dispatch(lu);
    }

    private void ReportBadCompletion(Srb srb, int previousState, string? how = null)
    {
        string what = how ?? (previousState == (int)SrbState.Completed
            ? "twice"
            : "although it never had it (the request was not outstanding in the miniport)");
        Log(StorageEventIds.ContractViolation, EventLevel.Error,
            $"The miniport {Registration.Name} completed {srb} {what}. The port ignored the call.",
            ("Address", srb.Address.ToString()), ("Opcode", $"0x{srb.OperationCode:X2}"), ("QueueTag", srb.QueueTag.ToString()));
    }

    private void AdapterCompletionAccounting()
    {
        if (Volatile.Read(ref _busyRemaining) == 0) return;
        bool release = false;
        lock (_lock)
        {
            if (_busyRemaining > 0 && --_busyRemaining == 0) { release = true; RecomputeHeld(); }
        }
        if (release) ThreadPool.UnsafeQueueUserWorkItem(static a => a.DispatchAll(), this, preferLocal: false);
    }

    /// <summary>The port completes a request itself (reset, removal, link-down timeout); the miniport may still hold it.</summary>
    internal void ForceComplete(Srb srb, SrbStatus status)
    {
        srb.Status = status;
        srb.CompletedByPort = true;
        srb.Unit?.Count(srb);
        Finish(srb);
    }

    /// <summary>Hands a finished request to its submitter.</summary>
    internal void Finish(Srb srb)
    {
        long now = Time.GetTimestamp();
        srb.CompletedTimestamp = now;
        if (srb.Unit is { } lu && !srb.Internal) lu.Performance.OnCompleted(srb, now - srb.SubmitTimestamp);
        if (PortEventSource.Log.IsIoEnabled())
            PortEventSource.Log.Completed(PortEventSource.PackAddress(Number, srb.Address), (long)srb.RequestId, srb.OperationCode,
                srb.RawSrbStatus, (byte)srb.ScsiStatus, srb.DataTransferLength, TicksToMicroseconds(now - srb.SubmitTimestamp));
        if (Port.TraceSink is { } sink)
        {
            // A front end that marked the request received will mark the reply sent: the record is
            // written then (or when the SRB is released unanswered).
            if (srb.ReceivedTimestamp != 0 && srb.CompletionHandler is not null) srb.TraceAdapter = this;
            else sink.OnRequestFinished(this, srb);
        }
        srb.State = (int)SrbState.Completed;
        srb.SignalCompleted();
        if (Interlocked.Decrement(ref _active) == 0 && _drained is { } tcs) tcs.TrySetResult();
    }

    // ------------------------------------------------------------------ front-end stamps

    /// <summary>
    /// Stamps the moment a front end received <paramref name="srb"/>'s request from the wire. Call it
    /// before <see cref="Submit"/>; a front end that does must also call <see cref="MarkReplySent"/>
    /// once the reply is on its way, so the trace sees the whole request. Allocates nothing.
    /// </summary>
    public void MarkReceived(Srb srb)
    {
        srb.ReceivedTimestamp = Time.GetTimestamp();
        if (PortEventSource.Log.IsIoEnabled())
            PortEventSource.Log.Received(PortEventSource.PackAddress(Number, srb.Address), (long)srb.RequestId, srb.OperationCode);
    }

    /// <summary>
    /// Stamps the moment the front end sent (or queued for sending) the reply to a request the port
    /// completed, and hands the finished request to the trace recorder, if any. Call it before
    /// releasing the SRB. Allocates nothing.
    /// </summary>
    public void MarkReplySent(Srb srb)
    {
        long now = Time.GetTimestamp();
        srb.ReplySentTimestamp = now;
        if (PortEventSource.Log.IsIoEnabled())
            PortEventSource.Log.ReplySent(PortEventSource.PackAddress(Number, srb.Address), (long)srb.RequestId,
                TicksToMicroseconds(now - (srb.ReceivedTimestamp != 0 ? srb.ReceivedTimestamp : srb.SubmitTimestamp)));
        FlushTrace(srb);
    }

    /// <summary>Writes the trace record a marked request still owes (once).</summary>
    internal void FlushTrace(Srb srb)
    {
        if (srb.TraceAdapter is null) return;
        srb.TraceAdapter = null;
        Port.TraceSink?.OnRequestFinished(this, srb);
    }

    internal long TicksToMicroseconds(long ticks) => (long)(ticks * (1_000_000.0 / Time.TimestampFrequency));

    // ------------------------------------------------------------------ holds (port services)

    internal void PauseAdapter(TimeSpan timeout)
    {
        long now = Time.GetTimestamp();
        lock (_lock)
        {
            if (!_paused) _pausedSince = now;
            _paused = true; _pausedUntil = now + TimeSpanToTicks(timeout); RecomputeHeld();
        }
    }

    internal void ResumeAdapter()
    {
        long now = Time.GetTimestamp(), paused = 0;
        lock (_lock)
        {
            if (_paused) paused = now - _pausedSince;
            _paused = false; RecomputeHeld();
        }
        AccountPaused(paused);
        DispatchAll();
    }

    private void AccountPaused(long ticks)
    {
        if (ticks <= 0) return;
        foreach (var lu in LogicalUnits) lu.Performance.OnPaused(ticks);
    }

    internal void BusyAdapter(int requests)
    {
        lock (_lock) { _busyRemaining = Math.Max(0, requests); RecomputeHeld(); }
    }

    internal void ReadyAdapter()
    {
        lock (_lock) { _busyRemaining = 0; RecomputeHeld(); }
        DispatchAll();
    }

    internal void SetLinkDown()
    {
        lock (_lock)
        {
            if (_linkDown) return;
            _linkDown = true;
            _linkDownSince = Time.GetTimestamp();
            _linkDownExpired = false;
            RecomputeHeld();
        }
        Log(StorageEventIds.LinkDown, EventLevel.Warning, $"The link of {DeviceName} is down; I/O is held for up to {Tunables.LinkDownTimeout.TotalSeconds:0.###} s.");
    }

    internal void SetLinkUp()
    {
        lock (_lock)
        {
            if (!_linkDown) return;
            _linkDown = false;
            _linkDownExpired = false;
            RecomputeHeld();
        }
        Log(StorageEventIds.LinkUp, EventLevel.Information, $"The link of {DeviceName} is up; held I/O resumes.");
        DispatchAll();
    }

    private void RecomputeHeld() => _held = _paused || _busyRemaining > 0 || _linkDown;

    // ------------------------------------------------------------------ heartbeat

    private void OnHeartbeat()
    {
        try
        {
            long now = Time.GetTimestamp();
            bool kickAll = false;
            long pausedTicks = 0;
            List<Srb>? linkFailures = null;
            lock (_lock)
            {
                if (_paused && now >= _pausedUntil) { _paused = false; pausedTicks = _pausedUntil - _pausedSince; RecomputeHeld(); kickAll = true; }
                if (_linkDown && !_linkDownExpired && now - _linkDownSince >= TimeSpanToTicks(Tunables.LinkDownTimeout))
                {
                    _linkDownExpired = true;
                    linkFailures = [];
                }
            }
            AccountPaused(pausedTicks);
            if (linkFailures is not null) FailHeldForLinkDown(linkFailures);
            RunDelayed(now);
            _resets.OnHeartbeat(now);
            foreach (var lu in LogicalUnits)
            {
                if (lu.CheckTimer(now) is { } timedOut) _resets.OnUnitTimeout(lu, timedOut);
                if (kickAll || lu.HasTimedHold) Dispatch(lu);
            }
        }
        catch (Exception ex)
        {
            Log(StorageEventIds.ContractViolation, EventLevel.Error, $"The heartbeat of {DeviceName} failed: {ex}");
        }
    }

    private void FailHeldForLinkDown(List<Srb> failures)
    {
        foreach (var lu in LogicalUnits) lu.TakeAllPending(failures);
        Log(StorageEventIds.LinkDownTimeout, EventLevel.Error,
            $"The link of {DeviceName} stayed down for {Tunables.LinkDownTimeout.TotalSeconds:0.###} s (LinkDownTimeout); {failures.Count} held request(s) failed with LINK_DOWN, and new requests fail until the link is back.",
            ("FailedRequests", failures.Count.ToString()));
        foreach (var srb in failures) ForceComplete(srb, SrbStatus.LinkDown);
    }

    /// <summary>Resubmits <paramref name="srb"/> after <paramref name="delay"/> on the port's heartbeat (class-layer retries).</summary>
    public void SubmitAfter(Srb srb, TimeSpan delay)
    {
        srb.DueTimestamp = Time.GetTimestamp() + TimeSpanToTicks(delay);
        lock (_delayed) _delayed.Add(srb);
    }

    private void RunDelayed(long now)
    {
        List<Srb>? due = null;
        lock (_delayed)
        {
            for (int i = _delayed.Count - 1; i >= 0; i--)
            {
                if (_delayed[i].DueTimestamp > now) continue;
                (due ??= []).Add(_delayed[i]);
                _delayed.RemoveAt(i);
            }
        }
        if (due is null) return;
        for (int i = due.Count - 1; i >= 0; i--) Submit(due[i]);
    }

    // ------------------------------------------------------------------ helpers

    internal long SecondsToTicks(uint seconds) => (long)seconds * Time.TimestampFrequency;

    internal long TimeSpanToTicks(TimeSpan span) => (long)(span.TotalSeconds * Time.TimestampFrequency);

    /// <summary>
    /// Writes an event from this adapter to the port's event log: the time from the port's clock,
    /// the miniport's name as the source, the adapter's device name, and <paramref name="data"/> as
    /// the event's fields. Not for the per-request path (it allocates).
    /// </summary>
    public void Log(int id, EventLevel level, string message, params (string Key, string Value)[] data)
    {
        var dict = new Dictionary<string, string>(data.Length);
        foreach (var (k, v) in data) dict[k] = v;
        Events.Write(new StorageEvent(id, Time.GetUtcNow(), level, Registration.Name, DeviceName, message, dict));
    }

    /// <summary>
    /// Raised when fault injection (or management) asks the front ends to drop every connection
    /// that uses the LU at the given address, as a network failure would. The iSCSI target and the
    /// NBD server close those connections; the initiators see the TCP connection end.
    /// </summary>
    public event Action<ScsiAddress>? ConnectionDropRequested;

    /// <summary>Asks the front ends to drop the connections to <paramref name="address"/>; returns how many handlers were told.</summary>
    public int RequestConnectionDrop(ScsiAddress address)
    {
        var handlers = ConnectionDropRequested;
        Log(StorageEventIds.ConnectionsDropped, EventLevel.Warning,
            $"Fault injection dropped the front-end connections to {address} on {DeviceName}.", ("Address", address.ToString()));
        if (handlers is null) return 0;
        int told = 0;
        foreach (Action<ScsiAddress> handler in handlers.GetInvocationList())
        {
            try { handler(address); told++; }
            catch (Exception ex) { Log(StorageEventIds.ContractViolation, EventLevel.Error, $"A front end failed to drop its connections to {address}: {ex.Message}"); }
        }
        return told;
    }

    /// <summary>The adapter's name and state.</summary>
    public override string ToString() => $"{DeviceName} ({Registration.Name}, {_state})";
}
