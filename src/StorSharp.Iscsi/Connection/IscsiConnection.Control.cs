using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Session;
using StorSharp.Port;

namespace StorSharp.Iscsi.Connection;

/// <summary>The context of an ABORT_COMMAND SRB: which TMF waits for it and which task's SRB it names.</summary>
internal sealed class AbortContext(TmfOperation operation, IscsiTask task)
{
    public TmfOperation Operation { get; } = operation;
    public IscsiTask Task { get; } = task;
}

internal sealed partial class IscsiConnection
{
    /// <summary>
    /// Sequencing for non-task requests (NOP-Out, Text, TMF, Logout): a non-immediate one with the
    /// expected CmdSN advances ExpCmdSN and returns its credit with the answer (RFC 7143 §3.2.2.1).
    /// </summary>
    private bool TakeCmdSN(ReadOnlySpan<byte> header)
    {
        if (Bhs.Immediate(header) || _session is not { } session) return false;
        uint cmdSN = Bhs.U32(header, 24);
        if (cmdSN != session.ExpCmdSN) return false;
        AdvanceExpCmdSN(session);
        DeliverHeld(session);
        return true;
    }

    // ------------------------------------------------------------------ NOP (RFC 7143 §11.18, §11.19)

    private void OnNopOut(ref PduFrame frame)
    {
        NopOutPdu.TryRead(frame.Header, out var nop);
        if (nop.InitiatorTaskTag == Bhs.ReservedTag)
        {
            // The answer to our ping (TTT echoed), or a one-way NOP-Out: no reply.
            if (nop.TargetTransferTag != Bhs.ReservedTag && nop.TargetTransferTag == _pingTtt) Volatile.Write(ref _pingSent, 0);
            return;
        }
        bool credit = TakeCmdSN(frame.Header);
        Span<byte> bhs = stackalloc byte[Bhs.Size];
        new NopInPdu { Lun = nop.Lun, InitiatorTaskTag = nop.InitiatorTaskTag, TargetTransferTag = Bhs.ReservedTag }.WriteTo(bhs);
        // §11.19: the ping data comes back, cut to what the initiator can receive.
        int length = Math.Min(frame.DataLength, _params.InitiatorMaxRecvDataSegmentLength);
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        frame.Data.Slice(0, length).CopyTo(rented);
        SendControl(bhs, rented.AsSpan(0, length), advanceStatSN: true, returnCredit: credit);
        ArrayPool<byte>.Shared.Return(rented);
    }

    // ------------------------------------------------------------------ Logout (RFC 7143 §11.14, §11.15)

    private void OnLogout(ref PduFrame frame)
    {
        LogoutRequestPdu.TryRead(frame.Header, out var req);
        bool credit = TakeCmdSN(frame.Header);
        var code = req.Reason switch
        {
            LogoutReason.CloseSession => LogoutResponseCode.ClosedSuccessfully,
            LogoutReason.CloseConnection => req.Cid == _login!.Cid ? LogoutResponseCode.ClosedSuccessfully : LogoutResponseCode.CidNotFound,
            _ => LogoutResponseCode.RecoveryNotSupported, // ERL 0 (§11.15.1)
        };
        Span<byte> bhs = stackalloc byte[Bhs.Size];
        new LogoutResponsePdu
        {
            Response = code,
            InitiatorTaskTag = req.InitiatorTaskTag,
            Time2Wait = (ushort)_params.DefaultTime2Wait,
            Time2Retain = (ushort)_params.DefaultTime2Retain,
        }.WriteTo(bhs);
        // The LUs learn of the nexus loss before the initiator learns the logout succeeded, so
        // whatever it sends next (through another session) finds the nexus's RESERVE released.
        if (code == LogoutResponseCode.ClosedSuccessfully && _session is { } session) NexusLoss.Notify(session);
        SendControl(bhs, default, advanceStatSN: true, returnCredit: credit);
        if (code == LogoutResponseCode.ClosedSuccessfully) Close($"logout ({req.Reason})");
    }

    // ------------------------------------------------------------------ Text and SendTargets (RFC 7143 §11.10, §11.11, Appendix C)

    private byte[]? _textReply;
    private int _textOffset;
    private uint _textTtt;
    private byte[]? _textRequest;

    private void OnTextRequest(ref PduFrame frame)
    {
        TextRequestPdu.TryRead(frame.Header, out var req);
        bool credit = TakeCmdSN(frame.Header);
        if (req.TargetTransferTag != Bhs.ReservedTag)
        {
            // The initiator asks for the next part of a long answer.
            if (_textReply is null || req.TargetTransferTag != _textTtt) { SendReject(RejectReason.InvalidPduField, frame.Header); return; }
            SendTextPart(req, credit);
            return;
        }
        var data = System.Buffers.BuffersExtensions.ToArray(frame.Data);
        if (req.Continue)
        {
            // The request continues in the next PDU: collect it (bounded) and answer empty (§11.10.2).
            int old = _textRequest?.Length ?? 0;
            if (old + data.Length > 65536) { SendReject(RejectReason.ProtocolError, frame.Header); _textRequest = null; return; }
            var joined = new byte[old + data.Length];
            _textRequest?.CopyTo(joined, 0);
            data.CopyTo(joined, old);
            _textRequest = joined;
            SendTextResponse(req, [], final: false, cont: false, Bhs.ReservedTag, credit);
            return;
        }
        if (_textRequest is not null)
        {
            var joined = new byte[_textRequest.Length + data.Length];
            _textRequest.CopyTo(joined, 0);
            data.CopyTo(joined, _textRequest.Length);
            data = joined;
            _textRequest = null;
        }
        var pairs = new List<KeyValuePair<string, string>>();
        if (TextKeyReader.Parse(data, pairs) != TextError.None) { SendReject(RejectReason.ProtocolError, frame.Header); return; }
        var answer = new List<KeyValuePair<string, string>>();
        foreach (var (key, value) in pairs)
        {
            if (key == "SendTargets") AppendSendTargets(value, answer);
            else if (key == "MaxRecvDataSegmentLength" && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int mrdsl) && mrdsl is >= 512 and <= 16777215)
                lock (_sendLock) _params.InitiatorMaxRecvDataSegmentLength = mrdsl; // §13.12: declarative, may change in FFP
            else answer.Add(new(key, key.StartsWith("X-", StringComparison.Ordinal) || key.StartsWith("X#", StringComparison.Ordinal) ? "NotUnderstood" : "Reject"));
        }
        _textReply = TextKeyWriter.ToBytes(answer);
        _textOffset = 0;
        SendTextPart(req, credit);
    }

    private void SendTextPart(in TextRequestPdu req, bool credit)
    {
        var reply = _textReply!;
        int max = _params.InitiatorMaxRecvDataSegmentLength;
        int length = Math.Min(max, reply.Length - _textOffset);
        bool last = _textOffset + length == reply.Length;
        uint ttt = Bhs.ReservedTag;
        if (!last) { _textTtt = NextTtt(); ttt = _textTtt; }
        SendTextResponse(req, reply.AsSpan(_textOffset, length), final: last, cont: !last, ttt, credit);
        _textOffset += length;
        if (last) _textReply = null;
    }

    private void SendTextResponse(in TextRequestPdu req, ReadOnlySpan<byte> data, bool final, bool cont, uint ttt, bool credit)
    {
        Span<byte> bhs = stackalloc byte[Bhs.Size];
        new TextResponsePdu { Final = final, Continue = cont, Lun = req.Lun, InitiatorTaskTag = req.InitiatorTaskTag, TargetTransferTag = ttt }.WriteTo(bhs);
        SendControl(bhs, data, advanceStatSN: true, returnCredit: credit);
    }

    private void AppendSendTargets(string value, List<KeyValuePair<string, string>> answer)
    {
        // Appendix C: SendTargets=All lists every target this initiator may see; a name lists that
        // target; an empty value in a Normal session lists the session's target.
        var session = _session!;
        IEnumerable<Login.TargetEntry> targets = value switch
        {
            "All" => _server.Targets,
            "" => session.Target is { } t ? [t] : [],
            _ => _server.FindTarget(value) is { } named ? [named] : [],
        };
        if (!session.IsDiscovery && value == "All") targets = session.Target is { } own ? [own] : [];
        foreach (var target in targets)
        {
            if (!target.Allows(session.InitiatorName)) continue;
            answer.Add(new("TargetName", target.Name));
            foreach (var address in _server.PortalAddresses(Local))
                answer.Add(new("TargetAddress", address));
        }
    }

    // ------------------------------------------------------------------ Task management (RFC 7143 §11.5, §11.6)

    private void OnTaskManagement(ref PduFrame frame)
    {
        TaskManagementRequestPdu.TryRead(frame.Header, out var req);
        var session = _session!;
        bool credit = TakeCmdSN(frame.Header);
        var op = new TmfOperation { Itt = req.InitiatorTaskTag, HoldsCredit = credit, Response = TaskManagementResponse.FunctionComplete };
        LunState? lun = LunAddressing.TryDecode(req.Lun, out ulong number) && session.Target!.Luns.TryGetValue(number, out var l) ? l : null;
        switch (req.Function)
        {
            case TaskManagementFunction.AbortTask:
            {
                IscsiTask? task;
                lock (_taskLock) _tasks.TryGetValue(req.ReferencedTaskTag, out task);
                if (task is null || task.Aborted)
                {
                    // §11.5.1: a task we never saw whose RefCmdSN is still in the window counts as received
                    // and aborted; otherwise it has finished already.
                    bool pending = session.InWindow(req.RefCmdSN) && (int)(req.CmdSN - req.RefCmdSN) > 0 && !req.Immediate;
                    op.Response = pending ? TaskManagementResponse.FunctionComplete : TaskManagementResponse.TaskDoesNotExist;
                    break;
                }
                AbortTask(op, task, sendAbortSrb: true);
                break;
            }
            case TaskManagementFunction.AbortTaskSet:
            case TaskManagementFunction.ClearTaskSet:
                // This session's tasks on the LU (the only I_T nexus whose tasks this connection holds).
                foreach (var task in TasksOn(lun, req.Lun)) AbortTask(op, task, sendAbortSrb: true);
                break;
            case TaskManagementFunction.LogicalUnitReset:
                if (lun is null) { op.Response = TaskManagementResponse.LunDoesNotExist; break; }
                foreach (var task in TasksOn(lun, req.Lun)) AbortTask(op, task, sendAbortSrb: false);
                SubmitReset(op, lun.Lun.Adapter, lun.Lun.Address, SrbFunction.ResetLogicalUnit);
                break;
            case TaskManagementFunction.TargetWarmReset:
            case TaskManagementFunction.TargetColdReset:
            {
                foreach (var task in TasksOn(null, 0)) AbortTask(op, task, sendAbortSrb: false);
                var done = new HashSet<(Adapter, byte, byte)>();
                foreach (var unit in session.Target!.Luns.Values)
                {
                    var a = unit.Lun.Address;
                    if (done.Add((unit.Lun.Adapter, a.PathId, a.TargetId))) SubmitReset(op, unit.Lun.Adapter, a, SrbFunction.ResetDevice);
                }
                op.CloseAfter = req.Function == TaskManagementFunction.TargetColdReset; // §11.5.1: cold reset drops the connections
                break;
            }
            case TaskManagementFunction.TaskReassign:
                op.Response = TaskManagementResponse.TaskAllegianceReassignmentNotSupported; // ERL 0
                break;
            default:
                op.Response = TaskManagementResponse.FunctionNotSupported;
                break;
        }
        TmfStep(op);
    }

    private List<IscsiTask> TasksOn(LunState? lun, ulong lunField)
    {
        var list = new List<IscsiTask>();
        lock (_taskLock)
        {
            foreach (var t in _tasks.Values)
                if (!t.Aborted && (lun is null ? lunField == 0 || t.LunField == lunField : t.Lun == lun)) list.Add(t);
        }
        foreach (var t in _held) if (!t.Aborted && !list.Contains(t) && (lun is null || t.Lun == lun)) list.Add(t);
        return list;
    }

    private void AbortTask(TmfOperation op, IscsiTask task, bool sendAbortSrb)
    {
        bool submitted;
        lock (_taskLock)
        {
            if (task.Phase == TaskPhase.Done || task.Aborted) return;
            task.Aborted = true;
            task.AbortWaiter = op;
            Interlocked.Increment(ref op.Pending);
            submitted = task.Phase == TaskPhase.Submitted;
            if (!submitted) _tasks.Remove(task.Itt);
        }
        if (!submitted)
        {
            // Still receiving data or waiting for its CmdSN: nothing reached the port.
            if (task.Delivered)
            {
                if (task.HoldsCredit) { lock (_sendLock) ReturnCreditLocked(); task.HoldsCredit = false; }
                task.Phase = TaskPhase.Done;
                FinishTask(task);
            }
            // A held task finishes when its CmdSN turn comes (Deliver sees Aborted).
            return;
        }
        if (!sendAbortSrb || task.Lun is not { } lun) return;
        // The abort SRB names the task's SRB, so the SRB must not be recycled before the abort ends.
        Interlocked.Increment(ref task.References);
        Interlocked.Increment(ref op.Pending);
        var abort = SrbPool.Shared.Rent();
        abort.Function = SrbFunction.AbortCommand;
        abort.Address = lun.Lun.Address;
        abort.AbortTarget = task.Srb;
        abort.Nexus = _session!.Nexus;
        abort.OriginalRequest = new AbortContext(op, task);
        abort.CompletionHandler = this;
        lun.Lun.Adapter.Submit(abort);
    }

    private void OnAbortSrbCompleted(Srb abort, AbortContext context)
    {
        if (abort.Status == SrbStatus.AbortFailed) Log($"ABORT TASK of ITT 0x{context.Task.Itt:x8}: the port could not abort it; it completes on its own");
        abort.Release();
        DropTaskReference(context.Task);
        TmfStep(context.Operation);
    }

    private void SubmitReset(TmfOperation op, Adapter adapter, ScsiAddress address, SrbFunction function)
    {
        Interlocked.Increment(ref op.Pending);
        var srb = SrbPool.Shared.Rent();
        srb.Function = function;
        srb.Address = address;
        srb.Nexus = _session!.Nexus;
        srb.OriginalRequest = op;
        srb.CompletionHandler = this;
        adapter.Submit(srb);
    }

    /// <summary>One thing a TMF waited for has finished; at zero the TMF response goes out (after every affected task ended, §11.6.2).</summary>
    private void TmfStep(TmfOperation op)
    {
        if (Interlocked.Decrement(ref op.Pending) != 0) return;
        Span<byte> bhs = stackalloc byte[Bhs.Size];
        new TaskManagementResponsePdu { Response = op.Response, InitiatorTaskTag = op.Itt }.WriteTo(bhs);
        SendControl(bhs, default, advanceStatSN: true, returnCredit: op.HoldsCredit);
        if (op.CloseAfter) CloseTargetConnections("TARGET COLD RESET");
    }

    /// <summary>
    /// RFC 7143 §11.5.1: after a TARGET COLD RESET the target drops all of its TCP connections to
    /// all initiators, so every session to this target ends (and with it its I_T nexus), not only
    /// the one that asked.
    /// </summary>
    private void CloseTargetConnections(string reason)
    {
        var target = _session?.Target;
        if (target is not null)
            foreach (var other in _server.Sessions.Snapshot())
                if (ReferenceEquals(other.Target, target) && !ReferenceEquals(other.Connection, this)) other.Connection?.Close(reason);
        Close(reason);
    }

    // ------------------------------------------------------------------ digest errors

    private void OnDiscardedForDigest(ref PduFrame frame)
    {
        switch (frame.Opcode)
        {
            case IscsiOpcode.ScsiCommand:
                // The command is discarded (§7.8); its CmdSN is used up so the window moves on.
                ConsumeRejectedCommandSN(frame.Header);
                break;
            case IscsiOpcode.ScsiDataOut:
                OnDataOut(ref frame, digestError: true);
                break;
        }
    }

    // ------------------------------------------------------------------ Async Message (RFC 7143 §11.9)

    /// <summary>Asks the initiator to log out within <paramref name="seconds"/> (AsyncEvent 1), as before a shutdown.</summary>
    public void RequestLogout(ushort seconds)
    {
        if (_session is null || _closed) return;
        Span<byte> bhs = stackalloc byte[Bhs.Size];
        new AsyncMessagePdu { AsyncEvent = AsyncEventCode.LogoutRequested, Parameter3 = seconds }.WriteTo(bhs);
        SendControl(bhs, default, advanceStatSN: true);
    }

    /// <summary>
    /// Reports a SCSI asynchronous event (AsyncEvent 0, RFC 7143 §11.9): the data segment is the
    /// SenseLength field and fixed-format sense with the unit attention
    /// (<paramref name="asc"/>/<paramref name="ascq"/>), for the LUN <paramref name="lunField"/>.
    /// Only on a logged-in normal session.
    /// </summary>
    public void SendScsiAsyncEvent(ulong lunField, byte asc, byte ascq)
    {
        if (_session is not { IsDiscovery: false } || _closed) return;
        Span<byte> data = stackalloc byte[2 + 18];
        Bhs.U16(data, 0, 18);
        ScsiFacts.FixedSense(data[2..], ScsiFacts.SenseUnitAttention, asc, ascq);
        Span<byte> bhs = stackalloc byte[Bhs.Size];
        new AsyncMessagePdu { AsyncEvent = AsyncEventCode.ScsiAsyncEvent, Lun = lunField }.WriteTo(bhs);
        SendControl(bhs, data, advanceStatSN: true);
    }
}
