namespace StorSharp.Port;

/// <summary>The three rungs of the reset ladder.</summary>
internal enum ResetLevel
{
    LogicalUnit,
    Target,
    Bus,
}

/// <summary>
/// Timeouts, resets and aborts: Storport's unit timer expiry (event 129), the reset ladder
/// LU -> target -> bus, and ABORT_COMMAND.
/// </summary>
/// <remarks>
/// A reset holds every LU it covers, sends RESET_LOGICAL_UNIT or RESET_DEVICE to the miniport
/// through StartIo (bypassing the queue), and climbs a rung when the miniport fails it or does
/// not answer within <see cref="PortTunables.ResetTimeout"/>. The last rung calls HwStorResetBus.
/// Whatever the miniport does, when a reset ends every request that was outstanding under it has
/// been completed: those the miniport did not complete, the port completes with BUS_RESET
/// (a no-op reset leaves no hung disk behind).
/// </remarks>
internal sealed class ResetLadder(Adapter adapter)
{
    private readonly Lock _lock = new();
    private readonly List<ResetOperation> _active = [];

    private sealed class ResetOperation
    {
        public ResetLevel Level;
        public ScsiAddress Address;
        public Srb? Requester;
        public Srb? Current;
        public long Due;
        public bool Failed;
        public readonly HashSet<LogicalUnit> Held = [];
    }

    /// <summary>The LU timer expired with <paramref name="timedOut"/> at the head: log event 129 and reset the LU.</summary>
    public void OnUnitTimeout(LogicalUnit lu, Srb timedOut)
    {
        var outstanding = new List<Srb>();
        lu.SnapshotOutstanding(outstanding);
        foreach (var s in outstanding) s.ResetByPort = true;
        adapter.Log(StorageEventIds.ResetToDevice, EventLevel.Warning,
            $"Reset to device, {adapter.DeviceName}, was issued.",
            ("Address", lu.Address.ToString()),
            ("Opcode", $"0x{timedOut.OperationCode:X2}"),
            ("QueueTag", timedOut.QueueTag.ToString()),
            ("TimeOutValue", timedOut.TimeOutValue.ToString()),
            ("Outstanding", outstanding.Count.ToString()));
        Start(ResetLevel.LogicalUnit, lu.Address, requester: null);
    }

    /// <summary>Starts a reset at <paramref name="level"/>; <paramref name="requester"/> (a front end's reset SRB) completes when it ends.</summary>
    public void Start(ResetLevel level, ScsiAddress address, Srb? requester)
    {
        if (requester is not null) requester.State = (int)SrbState.Queued;
        if (level != ResetLevel.Bus && adapter.GetLogicalUnit(address) is null && !AnyUnitIn(level, address))
        {
            if (requester is not null) { requester.Status = SrbStatus.NoDevice; adapter.Finish(requester); }
            return;
        }
        var op = new ResetOperation { Level = level, Address = address, Requester = requester };
        if (requester is not null)
        {
            // A front end asked for the reset (task management): what it ends must not be retried by the class layer.
            var outstanding = new List<Srb>();
            foreach (var lu in adapter.LogicalUnits) if (InScope(level, address, lu.Address)) lu.SnapshotOutstanding(outstanding);
            foreach (var s in outstanding) s.ResetByRequest = true;
        }
        HoldScope(op);
        lock (_lock) _active.Add(op);
        Issue(op);
    }

    private bool AnyUnitIn(ResetLevel level, ScsiAddress address)
    {
        foreach (var lu in adapter.LogicalUnits) if (InScope(level, address, lu.Address)) return true;
        return false;
    }

    private static bool InScope(ResetLevel level, ScsiAddress reset, ScsiAddress unit) => level switch
    {
        ResetLevel.LogicalUnit => reset == unit,
        ResetLevel.Target => reset.PathId == unit.PathId && reset.TargetId == unit.TargetId,
        _ => reset.PathId == unit.PathId,
    };

    private void HoldScope(ResetOperation op)
    {
        foreach (var lu in adapter.LogicalUnits)
        {
            if (!InScope(op.Level, op.Address, lu.Address) || op.Held.Contains(lu)) continue;
            lu.AddResetHold();
            op.Held.Add(lu);
        }
    }

    private void Issue(ResetOperation op)
    {
        if (op.Level == ResetLevel.Bus) { ResetBus(op); return; }
        var srb = SrbPool.Shared.Rent();
        srb.Internal = true;
        srb.Function = op.Level == ResetLevel.LogicalUnit ? SrbFunction.ResetLogicalUnit : SrbFunction.ResetDevice;
        srb.Address = op.Address;
        srb.OriginalRequest = op;
        srb.Unit = adapter.GetLogicalUnit(op.Address);
        srb.PrepareExtension(adapter.Registration.SrbExtensionSize);
        srb.State = (int)SrbState.Outstanding;
        srb.MiniportOwned = 1;
        srb.RefCount++;
        lock (_lock)
        {
            op.Current = srb;
            op.Due = adapter.Time.GetTimestamp() + adapter.TimeSpanToTicks(adapter.Tunables.ResetTimeout);
        }
        bool lu = op.Level == ResetLevel.LogicalUnit;
        adapter.Log(lu ? StorageEventIds.LunReset : StorageEventIds.TargetReset, EventLevel.Warning,
            lu ? $"Logical unit reset sent to {op.Address} on {adapter.DeviceName}."
               : $"Target reset sent to target {op.Address.PathId}:{op.Address.TargetId} on {adapter.DeviceName}.",
            ("Address", op.Address.ToString()));
        bool accepted;
        try { accepted = adapter.Miniport.StartIo(srb); }
        catch (Exception ex)
        {
            adapter.Log(StorageEventIds.ContractViolation, EventLevel.Error, $"The miniport {adapter.Registration.Name} threw from StartIo for {srb.Function}: {ex.Message}");
            accepted = false;
        }
        if (!accepted && Interlocked.CompareExchange(ref srb.State, (int)SrbState.Completed, (int)SrbState.Outstanding) == (int)SrbState.Outstanding)
        {
            srb.MiniportOwned = 0;
            srb.Status = SrbStatus.BadFunction;
            OnResetAnswered(op, srb);
        }
    }

    /// <summary>The miniport completed a request the port itself sent (a reset or an abort).</summary>
    public void OnInternalCompleted(Srb srb)
    {
        if (Interlocked.CompareExchange(ref srb.State, (int)SrbState.Completed, (int)SrbState.Outstanding) != (int)SrbState.Outstanding)
        {
            adapter.Log(StorageEventIds.ContractViolation, EventLevel.Error,
                $"The miniport {adapter.Registration.Name} completed {srb} twice. The port ignored the call.", ("Address", srb.Address.ToString()));
            return;
        }
        Interlocked.Exchange(ref srb.MiniportOwned, 0);
        if (srb.Function == SrbFunction.AbortCommand)
        {
            srb.Internal = false;
            srb.DropReference();
            adapter.Finish(srb);
            return;
        }
        if (srb.OriginalRequest is ResetOperation op) OnResetAnswered(op, srb);
    }

    private void OnResetAnswered(ResetOperation op, Srb srb)
    {
        bool current;
        lock (_lock)
        {
            current = ReferenceEquals(op.Current, srb);
            if (current) op.Current = null;
        }
        bool ok = srb.Status == SrbStatus.Success;
        var status = srb.Status;
        // Both references (the port's rental and the miniport's) end here.
        srb.DropReference();
        srb.DropReference();
        if (!current) return; // answered after the port had given up on it and climbed a rung
        if (ok) Finish(op);
        else Escalate(op, $"the miniport answered {status}");
    }

    public void OnHeartbeat(long now)
    {
        List<ResetOperation>? expired = null;
        lock (_lock)
        {
            foreach (var op in _active)
            {
                if (op.Current is null || now < op.Due) continue;
                op.Current = null; // a late answer is dropped in OnResetAnswered
                (expired ??= []).Add(op);
            }
        }
        if (expired is null) return;
        foreach (var op in expired) Escalate(op, $"the miniport did not answer within {adapter.Tunables.ResetTimeout.TotalSeconds:0.###} s");
    }

    private void Escalate(ResetOperation op, string why)
    {
        var from = op.Level;
        op.Level = from == ResetLevel.LogicalUnit ? ResetLevel.Target : ResetLevel.Bus;
        adapter.Log(StorageEventIds.ResetFailed, EventLevel.Warning,
            $"The {Describe(from)} reset of {op.Address} on {adapter.DeviceName} failed ({why}); escalating to a {Describe(op.Level)} reset.",
            ("Address", op.Address.ToString()), ("Level", from.ToString()));
        HoldScope(op);
        Issue(op);
    }

    private static string Describe(ResetLevel level) => level switch
    {
        ResetLevel.LogicalUnit => "logical unit",
        ResetLevel.Target => "target",
        _ => "bus",
    };

    private void ResetBus(ResetOperation op)
    {
        adapter.Log(StorageEventIds.BusReset, EventLevel.Warning, $"Bus {op.Address.PathId} of {adapter.DeviceName} is being reset.", ("PathId", op.Address.PathId.ToString()));
        bool ok;
        try { ok = adapter.Miniport.ResetBus(op.Address.PathId); }
        catch (Exception ex)
        {
            adapter.Log(StorageEventIds.ContractViolation, EventLevel.Error, $"The miniport {adapter.Registration.Name} threw from ResetBus: {ex.Message}");
            ok = false;
        }
        if (!ok)
        {
            op.Failed = true;
            adapter.Log(StorageEventIds.ResetFailed, EventLevel.Error,
                $"The bus reset of bus {op.Address.PathId} on {adapter.DeviceName} failed; the port completes its outstanding requests itself.",
                ("PathId", op.Address.PathId.ToString()), ("Level", nameof(ResetLevel.Bus)));
        }
        Finish(op);
    }

    /// <summary>Ends a reset: completes what the miniport left outstanding under it, lifts the holds, completes the requester.</summary>
    private void Finish(ResetOperation op)
    {
        var now = adapter.Time.GetTimestamp();
        var leftovers = new List<Srb>();
        foreach (var lu in op.Held) lu.ClaimAllOutstanding(leftovers, now);
        foreach (var s in leftovers) adapter.ForceComplete(s, SrbStatus.BusReset);
        foreach (var lu in op.Held) lu.Faults?.ReleaseStalled(); // the fault filter lets go of what it stalled
        foreach (var lu in op.Held) lu.RemoveResetHold(now);
        lock (_lock) _active.Remove(op);
        if (op.Requester is { } requester)
        {
            requester.Status = op.Failed ? SrbStatus.Error : SrbStatus.Success;
            adapter.Finish(requester);
        }
        foreach (var lu in op.Held) adapter.Dispatch(lu);
    }

    /// <summary>ABORT_COMMAND: a queued request is taken out by the port; an outstanding one is the miniport's to abort.</summary>
    public void Abort(Srb abort)
    {
        abort.State = (int)SrbState.Queued;
        var target = abort.AbortTarget;
        var lu = target?.Unit;
        if (target is null || lu is null || Volatile.Read(ref target.State) == (int)SrbState.Completed)
        {
            // SAM-5 §7.2: aborting a task that does not exist is still FUNCTION COMPLETE.
            abort.Status = SrbStatus.Success;
            adapter.Finish(abort);
            return;
        }
        if (lu.TryRemovePending(target))
        {
            adapter.ForceComplete(target, SrbStatus.Aborted);
            abort.Status = SrbStatus.Success;
            adapter.Finish(abort);
            adapter.Dispatch(lu);
            return;
        }
        if (lu.Faults?.TryAbortStalled(target) == true)
        {
            // The fault filter held it (a stall): it completes ABORTED, as a miniport would.
            abort.Status = SrbStatus.Success;
            adapter.Finish(abort);
            return;
        }
        abort.Internal = true;
        abort.Unit = lu;
        abort.PrepareExtension(adapter.Registration.SrbExtensionSize);
        abort.State = (int)SrbState.Outstanding;
        abort.MiniportOwned = 1;
        Interlocked.Increment(ref abort.RefCount);
        bool accepted;
        try { accepted = adapter.Miniport.StartIo(abort); }
        catch { accepted = false; }
        if (!accepted && Interlocked.CompareExchange(ref abort.State, (int)SrbState.Completed, (int)SrbState.Outstanding) == (int)SrbState.Outstanding)
        {
            abort.MiniportOwned = 0;
            abort.Internal = false;
            abort.DropReference();
            abort.Status = SrbStatus.AbortFailed;
            adapter.Finish(abort);
        }
    }
}
