namespace StorSharp.Port;

/// <summary>
/// The fault-injection filter of one logical unit (the storage filter-driver role): it sits
/// between the port and the miniport on the LU's StartIo path and, per its rules, delays a
/// request, fails it with sense data, answers BUSY or QUEUE FULL, stalls it, or times it out as
/// a miniport would. Requests no rule takes go to the miniport unchanged.
/// </summary>
/// <remarks>
/// <para>An LU without rules has no filter at all (<see cref="LogicalUnit.Faults"/> is null): the
/// hot path pays one field read, no call, no allocation. With rules, a delayed request allocates
/// its timer; fault injection is a test tool, not a fast path.</para>
/// <para>Rules are tried in order. Every matching <see cref="FaultKind.Delay"/> rule that fires
/// adds its delay; the first other rule that fires decides the outcome. A rule with a
/// <see cref="FaultRule.Count"/> is spent after that many requests.</para>
/// <para>Stalled requests stay with the filter until a reset covering the LU ends: the port then
/// completes them with BUS_RESET (as it does for any request a miniport does not give back) and
/// the filter lets go of them.</para>
/// </remarks>
public sealed class FaultFilter
{
    private readonly Lock _stallLock = new();
    private readonly List<Srb> _stalled = [];
    private readonly HashSet<Srb> _delayed = new(ReferenceEqualityComparer.Instance);
    private readonly FaultRule[] _rules;
    private readonly int[] _remaining;
    private readonly long[] _hits;
    private readonly Adapter _adapter;

    internal FaultFilter(Adapter adapter, IReadOnlyList<FaultRule> rules)
    {
        _adapter = adapter;
        _rules = [.. rules];
        _remaining = [.. _rules.Select(r => r.Count ?? -1)];
        _hits = new long[_rules.Length];
    }

    /// <summary>The rules, in the order they are tried.</summary>
    public IReadOnlyList<FaultRule> Rules => _rules;

    /// <summary>How many requests each rule has affected so far (same order as <see cref="Rules"/>).</summary>
    public IReadOnlyList<long> Hits => [.. _hits.Select(h => Interlocked.Read(ref h))];

    /// <summary>How many requests each rule may still affect; -1 for no limit.</summary>
    public IReadOnlyList<int> Remaining => [.. _remaining.Select(r => Volatile.Read(ref r))];

    /// <summary>Requests the filter is stalling now.</summary>
    public int StalledCount { get { lock (_stallLock) return _stalled.Count; } }

    /// <summary>
    /// The StartIo path: true when the filter took the request (it completes or holds it), false to
    /// send it to the miniport now.
    /// </summary>
    internal bool TryIntercept(Srb srb)
    {
        var operation = FaultOperationClassifier.Classify(srb);
        TimeSpan delay = TimeSpan.Zero;
        FaultRule? outcome = null;
        for (int i = 0; i < _rules.Length; i++)
        {
            var rule = _rules[i];
            if ((rule.Operations & operation) == 0) continue;
            if (rule.Kind != FaultKind.Delay && outcome is not null) continue;
            if (!Fires(i, rule)) continue;
            if (rule.Kind == FaultKind.Delay) delay += DelayOf(rule);
            else
            {
                outcome = rule;
                if (rule.Kind is FaultKind.Timeout or FaultKind.CommandTimeout) delay += DelayOf(rule);
            }
        }
        if (delay <= TimeSpan.Zero && outcome is null) return false;
        if (delay > TimeSpan.Zero)
        {
            var pending = new DelayedRequest(this, srb, outcome);
            lock (_stallLock) _delayed.Add(srb);
            pending.Timer = _adapter.Time.CreateTimer(static s => ((DelayedRequest)s!).Run(), pending, delay, Timeout.InfiniteTimeSpan);
            return true;
        }
        Apply(srb, outcome!);
        return true;
    }

    private bool Fires(int index, FaultRule rule)
    {
        if (rule.Rate is { } rate && Random.Shared.NextDouble() >= rate) return false;
        if (rule.Count is not null)
        {
            // Claim one of the remaining uses; a spent rule never fires again.
            int left;
            do
            {
                left = Volatile.Read(ref _remaining[index]);
                if (left <= 0) return false;
            }
            while (Interlocked.CompareExchange(ref _remaining[index], left - 1, left) != left);
        }
        Interlocked.Increment(ref _hits[index]);
        return true;
    }

    private static TimeSpan DelayOf(FaultRule rule)
    {
        if (rule.DelayMax is not { } max || max <= rule.Delay) return rule.Delay;
        return rule.Delay + TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * (max - rule.Delay).Ticks));
    }

    private void Apply(Srb srb, FaultRule? outcome)
    {
        if (outcome is null)
        {
            _adapter.CallMiniport(srb);
            return;
        }
        switch (outcome.Kind)
        {
            case FaultKind.Error:
                // Fixed-format sense (SPC-4 §4.5.3): current error, key, ASC, ASCQ.
                Span<byte> sense = stackalloc byte[18];
                sense[0] = 0x70;
                sense[2] = outcome.SenseKey;
                sense[7] = 10;
                sense[12] = outcome.Asc;
                sense[13] = outcome.Ascq;
                srb.ScsiStatus = ScsiStatus.CheckCondition;
                srb.SetSenseData(sense);
                srb.DataTransferLength = 0;
                Complete(srb, SrbStatus.Error);
                return;
            case FaultKind.Busy:
                Complete(srb, SrbStatus.Busy);
                return;
            case FaultKind.QueueFull:
                srb.ScsiStatus = ScsiStatus.TaskSetFull;
                Complete(srb, SrbStatus.Error);
                return;
            case FaultKind.Timeout:
                srb.DataTransferLength = 0;
                Complete(srb, SrbStatus.Timeout);
                return;
            case FaultKind.CommandTimeout:
                srb.DataTransferLength = 0;
                Complete(srb, SrbStatus.CommandTimeout);
                return;
            case FaultKind.Stall:
                lock (_stallLock) _stalled.Add(srb);
                return;
            default:
                _adapter.CallMiniport(srb);
                return;
        }
    }

    private void Complete(Srb srb, SrbStatus status)
    {
        srb.Status = status;
        _adapter.Services.CompleteRequest(srb);
    }

    /// <summary>
    /// A reset covering the LU ended (the port has completed what was outstanding with
    /// BUS_RESET): let go of every stalled request. Also called when the rules are replaced.
    /// </summary>
    internal void ReleaseStalled()
    {
        Srb[] stalled;
        lock (_stallLock)
        {
            if (_stalled.Count == 0) return;
            stalled = [.. _stalled];
            _stalled.Clear();
        }
        foreach (var srb in stalled)
        {
            // Normally the port has already completed it (BUS_RESET) and this only ends the filter's hold.
            if (Volatile.Read(ref srb.State) == (int)SrbState.Outstanding) Complete(srb, SrbStatus.BusReset);
            else _adapter.Services.CompleteRequest(srb);
        }
    }

    internal Srb[] TakeStalled()
    {
        lock (_stallLock)
        {
            Srb[] stalled = [.. _stalled];
            _stalled.Clear();
            return stalled;
        }
    }

    /// <summary>ABORT TASK for a stalled or delayed request: it completes ABORTED; false when the filter does not hold it.</summary>
    internal bool TryAbortStalled(Srb target)
    {
        lock (_stallLock)
        {
            // A delayed request is aborted too: when its timer fires it is gone and never reaches the miniport.
            if (!_stalled.Remove(target) && !_delayed.Remove(target)) return false;
        }
        Complete(target, SrbStatus.Aborted);
        return true;
    }

    private sealed class DelayedRequest(FaultFilter filter, Srb srb, FaultRule? outcome)
    {
        public ITimer? Timer;

        public void Run()
        {
            Timer?.Dispose();
            lock (filter._stallLock)
            {
                if (!filter._delayed.Remove(srb)) return; // aborted while it waited: already completed ABORTED
            }
            if (Volatile.Read(ref srb.State) != (int)SrbState.Outstanding)
            {
                // The port completed it meanwhile (a reset): the filter lets go, as a late miniport completion.
                filter._adapter.Services.CompleteRequest(srb);
                return;
            }
            filter.Apply(srb, outcome);
        }
    }
}
