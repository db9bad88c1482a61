namespace StorSharp.Port;

/// <summary>What a logical unit reported about itself when the port enumerated it (standard INQUIRY data).</summary>
/// <param name="PeripheralDeviceType">0 disk, 5 CD/DVD, ... (SPC-4 table 49).</param>
/// <param name="VendorId">T10 vendor identification.</param>
/// <param name="ProductId">Product identification.</param>
/// <param name="ProductRevision">Product revision level.</param>
/// <param name="Removable">The RMB bit.</param>
public sealed record LogicalUnitIdentity(byte PeripheralDeviceType, string VendorId, string ProductId, string ProductRevision, bool Removable);

/// <summary>Counters of one LU since it appeared.</summary>
/// <param name="Completed">Requests handed back to the submitter.</param>
/// <param name="Failed">Of those, requests that did not succeed.</param>
/// <param name="Timeouts">Times the LU timer expired (event 129).</param>
/// <param name="Resets">Resets that covered this LU.</param>
/// <param name="BusyRetries">Requests retried after BUSY.</param>
/// <param name="QueueFullRetries">Requests retried after QUEUE FULL.</param>
public readonly record struct LogicalUnitCounters(long Completed, long Failed, long Timeouts, long Resets, long BusyRetries, long QueueFullRetries);

/// <summary>
/// A logical unit as the port sees it: its address, its queue (depth, SIMPLE / ORDERED / HEAD OF
/// QUEUE), its timer and its holds (pause, busy, queue full, reset, link down). Storport's
/// "unit" (RAID_UNIT_EXTENSION).
/// </summary>
/// <remarks>
/// One lock per LU guards its queues; the miniport is never called with it held. Requests wait in
/// the pending list until a slot is free and nothing holds the LU, then move to the outstanding
/// list and go to StartIo.
/// </remarks>
public sealed class LogicalUnit
{
    private readonly Lock _lock = new();
    internal long LastNotReadyEventTimestamp; // ClassRetry's event 15 rate limit (TimeProvider timestamp; 0 = never)
    private SrbList _pending;
    private SrbList _outstanding;
    private int _orderedOutstanding;
    private int _queueDepth;
    private long _timerDeadline = -1;
    private bool _paused;
    private long _pausedSince;
    private long _pausedUntil;
    private long _busyUntil;
    private int _deviceBusyRemaining;
    private int _queueFullTarget = -1;
    private int _resetHolds;
    private bool _removed;
    private bool _removing;
    private TaskCompletionSource? _quiet;
    private bool _quietIncludesPending;
    private long _completed, _failed, _timeouts, _resets, _busyRetries, _queueFullRetries;
    private PortTunables _tunables;

    internal LogicalUnit(Adapter adapter, ScsiAddress address, int queueDepth, PortTunables tunables, int extensionSize)
    {
        Adapter = adapter;
        Address = address;
        _queueDepth = queueDepth;
        _tunables = tunables;
        MiniportExtension = new byte[extensionSize];
        Performance = new LogicalUnitPerformance(this);
    }

    /// <summary>The LU's performance counters: the 505-style latency histogram, bytes, maximum latencies, queue, busy and pause times.</summary>
    public LogicalUnitPerformance Performance { get; }

    /// <summary>The adapter the LU is on.</summary>
    public Adapter Adapter { get; }

    /// <summary>Bus, target and LUN.</summary>
    public ScsiAddress Address { get; }

    /// <summary>What the LU said about itself at enumeration; null for a unit the port has not enumerated.</summary>
    public LogicalUnitIdentity? Identity { get; internal set; }

    /// <summary>The miniport's per-LU scratch space (Storport's LU extension), SpecificLuExtensionSize bytes.</summary>
    public byte[] MiniportExtension { get; }

    /// <summary>An object the miniport may attach to the LU.</summary>
    public object? MiniportContext { get; set; }

    /// <summary>The LU's fault-injection filter; null when no fault is set (the usual case).</summary>
    public FaultFilter? Faults => Volatile.Read(ref _faults);

    private FaultFilter? _faults;

    /// <summary>
    /// Replaces the LU's fault rules (an empty list or null clears them). Requests the old filter
    /// was stalling are released as if a reset had ended them (BUS_RESET), so nothing hangs.
    /// </summary>
    /// <exception cref="ArgumentException">A rule is out of range; the parameter name is the field.</exception>
    public void SetFaults(IReadOnlyList<FaultRule>? rules)
    {
        if (rules is not null) foreach (var rule in rules) rule.Validate();
        var next = rules is { Count: > 0 } ? new FaultFilter(Adapter, rules) : null;
        var previous = Interlocked.Exchange(ref _faults, next);
        if (previous is not null)
        {
            // The requests the old filter stalled are still outstanding: the port completes them as a reset would.
            var now = Adapter.Time.GetTimestamp();
            var stalled = previous.TakeStalled();
            foreach (var srb in stalled)
                if (TryClaimOutstanding(srb, now)) Adapter.ForceComplete(srb, SrbStatus.BusReset);
            foreach (var srb in stalled) Adapter.Services.CompleteRequest(srb);
        }
        Adapter.Log(next is null ? StorageEventIds.FaultsCleared : StorageEventIds.FaultsSet, EventLevel.Information,
            next is null ? $"Fault injection on {Address} of {Adapter.DeviceName} is off."
                         : $"Fault injection on {Address} of {Adapter.DeviceName}: {string.Join("; ", next.Rules)}.",
            ("Address", Address.ToString()), ("Rules", next is null ? "" : string.Join("; ", next.Rules)));
        Adapter.Dispatch(this);
    }

    /// <summary>The timing rules for this LU (the adapter's unless overridden).</summary>
    public PortTunables Tunables
    {
        get => Volatile.Read(ref _tunables);
        set { ArgumentNullException.ThrowIfNull(value); value.Validate(); Volatile.Write(ref _tunables, value); }
    }

    /// <summary>How many requests may be outstanding in the miniport at once (1 to 255).</summary>
    public int QueueDepth { get { lock (_lock) return _queueDepth; } }

    /// <summary>Requests waiting in the port's queue.</summary>
    public int PendingCount { get { lock (_lock) return _pending.Count; } }

    /// <summary>Requests the miniport holds.</summary>
    public int OutstandingCount { get { lock (_lock) return _outstanding.Count; } }

    /// <summary>True after the LU went away; new requests fail with NO_DEVICE.</summary>
    public bool IsRemoved { get { lock (_lock) return _removed; } }

    /// <summary>True while an orderly removal drains the LU: new requests fail with NO_DEVICE, those already accepted still run.</summary>
    public bool IsRemoving { get { lock (_lock) return _removing && !_removed; } }

    /// <summary>True while the LU is paused (PauseDevice) and the pause has not run out.</summary>
    public bool IsPaused { get { lock (_lock) return _paused && Adapter.Time.GetTimestamp() < _pausedUntil; } }

    /// <summary>True while a reset covers the LU.</summary>
    public bool IsResetting { get { lock (_lock) return _resetHolds > 0; } }

    /// <summary>The counters.</summary>
    public LogicalUnitCounters Counters
    {
        get { lock (_lock) return new(_completed, _failed, _timeouts, _resets, _busyRetries, _queueFullRetries); }
    }

    /// <summary>Address and identity, for listings.</summary>
    public override string ToString() => $"{Adapter.Name} {Address} {Identity?.ProductId}";

    // ------------------------------------------------------------------ queue

    internal bool SetQueueDepth(int depth)
    {
        if (depth is < 1 or > 255) return false;
        lock (_lock) _queueDepth = depth;
        return true;
    }

    /// <summary>Queues a request; false when the LU is gone (the caller fails it).</summary>
    internal bool Enqueue(Srb srb)
    {
        lock (_lock)
        {
            if (_removed || _removing) return false;
            srb.State = (int)SrbState.Queued;
            if (srb.QueueAction == QueueAction.HeadOfQueue) _pending.AddFirst(srb);
            else _pending.AddLast(srb);
        }
        return true;
    }

    /// <summary>Takes the next request that may start now, moving it to the outstanding list.</summary>
    internal Srb? TryTakeNext(long now, bool adapterHeld)
    {
        lock (_lock)
        {
            var head = _pending.First;
            if (head is null || adapterHeld || IsHeldLocked(now)) return null;
            int depth = Adapter.Registration.MultipleRequestPerLu && Adapter.Registration.TaggedQueuing ? _queueDepth : 1;
            if (_outstanding.Count >= depth) return null;
            if (head.QueueAction != QueueAction.HeadOfQueue)
            {
                // SAM-5 §8.6: nothing may start while an ORDERED task is in the task set, and an
                // ORDERED task starts only when every earlier task has finished.
                if (_orderedOutstanding > 0) return null;
                if (head.QueueAction == QueueAction.Ordered && _outstanding.Count > 0) return null;
            }
            _pending.Remove(head);
            _outstanding.AddLast(head);
            if (head.QueueAction == QueueAction.Ordered) _orderedOutstanding++;
            head.State = (int)SrbState.Outstanding;
            head.StartTimestamp = now;
            Performance.OnStarted(head, now);
            Performance.OnOutstanding(_outstanding.Count);
            if (_timerDeadline < 0) _timerDeadline = now + Adapter.SecondsToTicks(head.TimeOutValue);
            return head;
        }
    }

    private bool IsHeldLocked(long now)
    {
        if (_removed || _resetHolds > 0) return true;
        if (_paused)
        {
            if (now < _pausedUntil) return true;
            _paused = false;
            Performance.OnPaused(_pausedUntil - _pausedSince);
        }
        if (_busyUntil != 0)
        {
            if (now < _busyUntil) return true;
            _busyUntil = 0;
        }
        if (_deviceBusyRemaining > 0) return true;
        if (_queueFullTarget >= 0)
        {
            if (_outstanding.Count > _queueFullTarget) return true;
            _queueFullTarget = -1;
        }
        return false;
    }

    /// <summary>
    /// Takes a request the miniport finished off the outstanding list and decides what happens next:
    /// a BUSY or QUEUE FULL answer is put back at the head of the queue (true) unless its retries are
    /// spent; anything else goes to the submitter (false).
    /// </summary>
    internal bool RemoveCompleted(Srb srb, long now)
    {
        lock (_lock)
        {
            RemoveOutstandingLocked(srb, now);
            var tunables = _tunables;
            bool busy = srb.Status == SrbStatus.Busy || srb.ScsiStatus == ScsiStatus.Busy;
            bool queueFull = srb.ScsiStatus == ScsiStatus.TaskSetFull;
            if ((busy || queueFull) && !_removed && srb.BusyRetries < tunables.BusyRetryCount)
            {
                srb.BusyRetries++;
                srb.Status = SrbStatus.Pending;
                srb.ScsiStatus = ScsiStatus.Good;
                srb.StatusFlags = SrbStatusFlags.None;
                srb.State = (int)SrbState.Queued;
                _pending.AddFirst(srb);
                if (queueFull && _outstanding.Count > 0)
                {
                    // Storport QueueFullWaitIoPercentage: wait until that share of the requests
                    // still outstanding has completed before starting new ones.
                    _queueFullTarget = _outstanding.Count * (100 - tunables.QueueFullWaitIoPercentage) / 100;
                    _queueFullRetries++;
                }
                else
                {
                    _busyUntil = now + Adapter.TimeSpanToTicks(tunables.BusyPauseTime);
                    if (_busyUntil == 0) _busyUntil = 1;
                    if (queueFull) _queueFullRetries++; else _busyRetries++;
                }
                return true;
            }
            CountLocked(srb);
            CheckQuietLocked();
            return false;
        }
    }

    private void RemoveOutstandingLocked(Srb srb, long now)
    {
        _outstanding.Remove(srb);
        if (srb.QueueAction == QueueAction.Ordered) _orderedOutstanding--;
        if (_deviceBusyRemaining > 0) _deviceBusyRemaining--;
        // Storport reloads the LU timer from the request now at the head on every completion.
        _timerDeadline = _outstanding.First is { } first ? now + Adapter.SecondsToTicks(first.TimeOutValue) : -1;
    }

    private void CountLocked(Srb srb)
    {
        _completed++;
        if (srb.Status != SrbStatus.Success) _failed++;
    }

    internal void Count(Srb srb)
    {
        lock (_lock) CountLocked(srb);
    }

    // ------------------------------------------------------------------ holds

    internal void Pause(long until)
    {
        long now = Adapter.Time.GetTimestamp();
        lock (_lock) { if (!_paused) _pausedSince = now; _paused = true; _pausedUntil = until; }
    }

    internal void Resume()
    {
        long now = Adapter.Time.GetTimestamp();
        lock (_lock)
        {
            if (_paused) Performance.OnPaused(Math.Min(now, _pausedUntil) - _pausedSince);
            _paused = false;
        }
    }

    internal void Busy(int requests) { lock (_lock) _deviceBusyRemaining = Math.Max(0, requests); }

    internal void Ready() { lock (_lock) _deviceBusyRemaining = 0; }

    internal void AddResetHold() { lock (_lock) { _resetHolds++; _resets++; _timerDeadline = -1; } }

    internal void RemoveResetHold(long now)
    {
        lock (_lock)
        {
            if (_resetHolds > 0) _resetHolds--;
            if (_resetHolds == 0 && _outstanding.First is { } first) _timerDeadline = now + Adapter.SecondsToTicks(first.TimeOutValue);
        }
    }

    /// <summary>True when the LU timer has expired (Storport's per-unit timer reaching 0); stops the timer.</summary>
    internal Srb? CheckTimer(long now)
    {
        lock (_lock)
        {
            if (_timerDeadline < 0 || now < _timerDeadline || _resetHolds > 0) return null;
            _timerDeadline = -1;
            _timeouts++;
            return _outstanding.First;
        }
    }

    /// <summary>True when something the heartbeat must re-check holds the LU (a timed pause or busy pause).</summary>
    internal bool HasTimedHold
    {
        get { lock (_lock) return _pending.Count > 0 && (_paused || _busyUntil != 0); }
    }

    /// <summary>Moves every pending request out (for failing them).</summary>
    internal void TakeAllPending(List<Srb> into)
    {
        lock (_lock) { _pending.MoveAllTo(into); CheckQuietLocked(); }
    }

    /// <summary>The outstanding requests, in order (for a reset or a forced completion).</summary>
    internal void SnapshotOutstanding(List<Srb> into)
    {
        lock (_lock) for (var s = _outstanding.First; s is not null; s = s.QueueNext) into.Add(s);
    }

    /// <summary>
    /// Claims every request the miniport still holds for the port to complete itself (the end of a
    /// reset, a surprise removal, StorPortCompleteAllRequests) and adds them to <paramref name="into"/>;
    /// those the miniport completes meanwhile stay its own.
    /// </summary>
    internal void ClaimAllOutstanding(List<Srb> into, long now)
    {
        var snapshot = new List<Srb>();
        SnapshotOutstanding(snapshot);
        foreach (var srb in snapshot) if (TryClaimOutstanding(srb, now)) into.Add(srb);
    }

    /// <summary>Removes <paramref name="srb"/> from the pending list if it is still there (an abort).</summary>
    internal bool TryRemovePending(Srb srb)
    {
        lock (_lock)
        {
            if (srb.State != (int)SrbState.Queued || !ReferenceEquals(srb.Unit, this) || !_pending.Contains(srb)) return false;
            _pending.Remove(srb);
            CheckQuietLocked();
            return true;
        }
    }

    /// <summary>
    /// Claims an outstanding request for the port to complete itself (reset, removal): takes it off
    /// the outstanding list. False when the miniport completed it first.
    /// </summary>
    internal bool TryClaimOutstanding(Srb srb, long now)
    {
        lock (_lock)
        {
            if (Interlocked.CompareExchange(ref srb.State, (int)SrbState.Completed, (int)SrbState.Outstanding) != (int)SrbState.Outstanding)
                return false;
            RemoveOutstandingLocked(srb, now);
            CheckQuietLocked();
            return true;
        }
    }

    // ------------------------------------------------------------------ removal and quiescing

    /// <summary>The LU is gone: it holds every request and refuses new ones (NO_DEVICE).</summary>
    internal void MarkRemoved()
    {
        lock (_lock) { _removed = true; _removing = false; }
    }

    /// <summary>
    /// Starts an orderly removal: new requests are refused (NO_DEVICE), a pause is lifted, and the
    /// returned task completes once every request already accepted (queued or outstanding) has
    /// completed.
    /// </summary>
    internal Task BeginRemoval()
    {
        lock (_lock)
        {
            _removing = true;
            _paused = false;
            return WhenQuietLocked(includePending: true);
        }
    }

    /// <summary>
    /// Completes when the miniport holds none of the LU's requests (and, with
    /// <paramref name="includePending"/>, none waits in the port's queue either). One waiter at a time.
    /// </summary>
    internal Task WhenQuiet(bool includePending)
    {
        lock (_lock) return WhenQuietLocked(includePending);
    }

    private Task WhenQuietLocked(bool includePending)
    {
        _quiet?.TrySetResult();
        _quiet = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _quietIncludesPending = includePending;
        var task = _quiet.Task;
        CheckQuietLocked();
        return task;
    }

    private void CheckQuietLocked()
    {
        if (_quiet is null || _outstanding.Count > 0 || (_quietIncludesPending && _pending.Count > 0)) return;
        _quiet.TrySetResult();
        _quiet = null;
    }

    /// <summary>
    /// Holds new requests to the LU (a pause until <see cref="IPortServices.ResumeDevice"/>) and waits
    /// until the miniport has finished every request it holds, so the caller can change the LU
    /// underneath (a resize). Call <see cref="IPortServices.ResumeDevice"/> afterwards, also on failure.
    /// </summary>
    /// <param name="timeout">How long to wait for the outstanding requests.</param>
    /// <returns>False when requests were still outstanding after <paramref name="timeout"/> (the LU stays paused).</returns>
    public async Task<bool> PauseAndDrainAsync(TimeSpan timeout)
    {
        Pause(long.MaxValue);
        var quiet = WhenQuiet(includePending: false);
        if (quiet.IsCompleted) return true;
        try
        {
            await quiet.WaitAsync(timeout, Adapter.Time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException) { return false; }
    }
}
