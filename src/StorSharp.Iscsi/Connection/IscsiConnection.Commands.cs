using System.Buffers;
using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Session;
using StorSharp.Port;

namespace StorSharp.Iscsi.Connection;

internal sealed partial class IscsiConnection
{
    // ------------------------------------------------------------------ SCSI Command (RFC 7143 §11.3)

    private void OnScsiCommand(ref PduFrame frame)
    {
        ScsiCommandPdu.TryRead(frame.Header, out var cmd);
        var session = _session!;
        int immediateLength = frame.DataLength;

        // RFC 7143 §4.2.2.1: a non-immediate command outside [ExpCmdSN, MaxCmdSN] is silently ignored.
        // Its immediate data went with the PDU; its unsolicited Data-Out is dropped as an unknown task.
        if (!cmd.Immediate && !session.InWindow(cmd.CmdSN))
        {
            Log($"CmdSN {cmd.CmdSN} outside [{session.ExpCmdSN}, {session.MaxCmdSN}]: ignored (ITT 0x{cmd.InitiatorTaskTag:x8})");
            return;
        }

        // Protocol checks (RFC 7143 §11.3.4, §13.10, §13.11, §13.14).
        string? violation = null;
        if (immediateLength > 0 && !cmd.Write) violation = "data with a command that is not a write";
        else if (immediateLength > 0 && !_params.ImmediateData) violation = "immediate data although ImmediateData=No";
        else if (immediateLength > _params.FirstBurstLength) violation = "immediate data beyond FirstBurstLength";
        else if (immediateLength > cmd.ExpectedDataTransferLength) violation = "immediate data beyond the expected data transfer length";
        else if (!cmd.Final && (!cmd.Write || _params.InitialR2T)) violation = "F=0 (unsolicited data follows) where none is allowed";
        else if (cmd.InitiatorTaskTag == Bhs.ReservedTag) violation = "ITT 0xffffffff";
        if (violation is null)
        {
            lock (_taskLock) if (_tasks.ContainsKey(cmd.InitiatorTaskTag)) violation = $"ITT 0x{cmd.InitiatorTaskTag:x8} already in use";
        }
        if (violation is not null)
        {
            Log($"SCSI Command rejected: {violation}");
            ConsumeRejectedCommandSN(frame.Header);
            SendReject(violation.StartsWith("ITT", StringComparison.Ordinal) ? RejectReason.InvalidPduField : RejectReason.ProtocolError, frame.Header);
            return;
        }

        var task = IscsiTask.Rent();
        var srb = SrbPool.Shared.Rent();
        task.Srb = srb;
        task.Itt = cmd.InitiatorTaskTag;
        task.CmdSN = cmd.CmdSN;
        task.Immediate = cmd.Immediate;
        task.LunField = cmd.Lun;
        task.Spdtl = -1;
        srb.Function = SrbFunction.ExecuteScsi;
        srb.Nexus = session.Nexus;
        srb.OriginalRequest = task;
        srb.RequestId = cmd.InitiatorTaskTag;
        srb.QueueTag = cmd.InitiatorTaskTag;
        srb.CompletionHandler = this;
        srb.QueueAction = cmd.Attribute switch
        {
            TaskAttribute.Ordered => QueueAction.Ordered,
            TaskAttribute.HeadOfQueue => QueueAction.HeadOfQueue,
            _ => QueueAction.Simple,
        };

        // CDB: 16 bytes in the BHS, the rest in an Extended CDB AHS (RFC 7143 §11.2.2.3).
        Span<byte> cdb = stackalloc byte[Srb.MaxCdbLength];
        ReadOnlySpan<byte> first16 = cmd.Cdb;
        first16.CopyTo(cdb);
        int cdbLength = ScsiFacts.CdbLength(cdb);
        if (!frame.Ahs.IsEmpty)
        {
            if (!ScsiCommandPdu.TryGetExtendedCdb(frame.Ahs, cdb[16..], out int extra)) task.Fail(ScsiFacts.SenseIllegalRequest, 0x24, 0x00);
            else if (extra > 0) cdbLength = 16 + extra;
        }
        srb.SetCdb(cdb[..Math.Clamp(cdbLength, 6, Srb.MaxCdbLength)]);

        // LUN (SAM-5 §4.7).
        if (LunAddressing.TryDecode(cmd.Lun, out ulong lunNumber) && session.Target!.Luns.TryGetValue(lunNumber, out var lun)) task.Lun = lun;
        task.Lun?.Lun.Adapter.MarkReceived(srb); // trace: the command PDU arrived

        // Direction, lengths and the buffer (the payload lands straight in the SRB's buffer).
        uint edtl = cmd.ExpectedDataTransferLength;
        task.Direction = cmd.Write ? DataDirection.Out : cmd.Read ? DataDirection.In : DataDirection.None;
        if (cmd.Read && cmd.Write) task.Fail(ScsiFacts.SenseIllegalRequest, 0x24, 0x00); // bidirectional commands are not supported
        if (edtl > (uint)_options.MaxCommandDataLength) task.Fail(ScsiFacts.SenseIllegalRequest, 0x24, 0x00);
        task.Edtl = (int)Math.Min(edtl, int.MaxValue);
        if (!cmd.Read && !cmd.Write) task.Edtl = (int)Math.Min(edtl, int.MaxValue);
        int blockSize = task.Lun?.BlockSize ?? 0;
        task.Spdtl = ScsiFacts.ExpectedDataBytes(srb.Cdb, blockSize);
        if (task.Lun is null && srb.OperationCode is not (ScsiFacts.Inquiry or ScsiFacts.ReportLuns or ScsiFacts.RequestSense))
            task.Fail(ScsiFacts.SenseIllegalRequest, 0x25, 0x00); // LOGICAL UNIT NOT SUPPORTED
        if (task.Direction == DataDirection.Out)
        {
            if (task.Spdtl > task.Edtl)
            {
                // The CDB asks for more than the initiator will send (residual overflow, RFC 7143 §11.4.5.2).
                // FCP-4 rule (a): write only what fits in the expected length, in whole blocks, and report
                // the overflow; where the CDB cannot say that, rule (b): INVALID FIELD IN COMMAND
                // INFORMATION UNIT, still with the overflow (libiscsi's Write*Residuals accept both).
                task.OverflowResidual = (uint)(task.Spdtl - task.Edtl);
                if (!ScsiFacts.TryTruncateTransfer(srb.Cdb, blockSize, task.Edtl)) task.Fail(ScsiFacts.SenseIllegalRequest, 0x0E, 0x03);
            }
            task.BufferLength = task.Edtl;
        }
        else if (task.Direction == DataDirection.In)
        {
            long want = Math.Max(task.Edtl, task.Spdtl);
            task.BufferLength = (int)Math.Min(want, _options.MaxCommandDataLength);
        }
        if (!task.Failed && task.BufferLength > 0) srb.Data.Rent(task.BufferLength);
        srb.Direction = task.Failed ? DataDirection.None : task.Direction;

        // Immediate data (RFC 7143 §4.2.5.1) and the unsolicited window (§13.14 FirstBurstLength).
        if (immediateLength > 0)
        {
            if (!task.Failed) CopyIn(srb, 0, frame.Data);
            task.Received = immediateLength;
        }
        if (task.Direction == DataDirection.Out)
        {
            task.UnsolicitedNext = immediateLength;
            task.UnsolicitedOpen = !cmd.Final;
            task.UnsolicitedEnd = cmd.Final ? immediateLength : Math.Max(immediateLength, Math.Min(_params.FirstBurstLength, task.Edtl));
            task.NextR2TOffset = task.UnsolicitedEnd;
            if (_params.MaxOutstandingR2T > task.R2Ts.Length) task.R2Ts = new R2tSlot[Math.Min(_params.MaxOutstandingR2T, 256)];
        }

        lock (_taskLock) _tasks[task.Itt] = task;

        // Commands reach the port in CmdSN order (RFC 7143 §3.2.2.1); immediate ones go at once.
        if (cmd.Immediate) Deliver(task);
        else if (cmd.CmdSN == session.ExpCmdSN)
        {
            AdvanceExpCmdSN(session);
            Deliver(task);
            DeliverHeld(session);
        }
        else InsertHeld(task);
    }

    private static void CopyIn(Srb srb, long offset, in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment) { srb.Data.CopyFrom(offset, data.FirstSpan); return; }
        foreach (var segment in data)
        {
            srb.Data.CopyFrom(offset, segment.Span);
            offset += segment.Length;
        }
    }

    private static void AdvanceExpCmdSN(IscsiSession session) => Volatile.Write(ref session.ExpCmdSN, session.ExpCmdSN + 1);

    private void InsertHeld(IscsiTask task)
    {
        int i = _held.Count;
        while (i > 0 && (int)(_held[i - 1].CmdSN - task.CmdSN) > 0) i--;
        _held.Insert(i, task);
    }

    private void DeliverHeld(IscsiSession session)
    {
        while (_held.Count > 0 && _held[0].CmdSN == session.ExpCmdSN)
        {
            var next = _held[0];
            _held.RemoveAt(0);
            AdvanceExpCmdSN(session);
            Deliver(next);
        }
    }

    /// <summary>A rejected or discarded non-immediate command still uses its CmdSN, so the window moves on.</summary>
    private void ConsumeRejectedCommandSN(ReadOnlySpan<byte> header)
    {
        if (Bhs.Immediate(header) || _session is not { } session) return;
        uint cmdSN = Bhs.U32(header, 24);
        if (cmdSN != session.ExpCmdSN) return;
        AdvanceExpCmdSN(session);
        lock (_sendLock) ReturnCreditLocked();
        DeliverHeld(session);
    }

    private void Deliver(IscsiTask task)
    {
        task.Delivered = true;
        task.HoldsCredit = !task.Immediate;
        if (task.Aborted)
        {
            lock (_taskLock) if (_tasks.TryGetValue(task.Itt, out var same) && same == task) _tasks.Remove(task.Itt);
            if (task.HoldsCredit) { lock (_sendLock) ReturnCreditLocked(); task.HoldsCredit = false; }
            FinishTask(task);
            return;
        }
        if (task.Direction == DataDirection.Out) IssueR2Ts(task);
        TryStart(task);
    }

    // ------------------------------------------------------------------ Data-Out and R2T (RFC 7143 §11.7, §11.8)

    private void OnDataOut(ref PduFrame frame) => OnDataOut(ref frame, digestError: false);

    private void OnDataOut(ref PduFrame frame, bool digestError)
    {
        DataOutPdu.TryRead(frame.Header, out var d);
        IscsiTask? task;
        lock (_taskLock) _tasks.TryGetValue(d.InitiatorTaskTag, out task);
        if (task is null || task.Phase != TaskPhase.Receiving || task.Direction != DataDirection.Out)
        {
            // Data for a command that was ignored, rejected or aborted: discarded; the stream stays in sync.
            return;
        }
        int length = frame.DataLength;
        long offset = d.BufferOffset;
        bool ok = !digestError;
        if (d.TargetTransferTag == Bhs.ReservedTag)
        {
            // Unsolicited data (RFC 7143 §4.2.5.2): DataSN from 0, offsets in order (DataPDUInOrder=Yes),
            // within FirstBurstLength.
            ok &= task.UnsolicitedOpen && d.DataSN == task.UnsolicitedDataSN && offset == task.UnsolicitedNext && offset + length <= task.UnsolicitedEnd;
            task.UnsolicitedDataSN++;
            if (ok)
            {
                if (!task.Failed) CopyIn(task.Srb, offset, frame.Data);
                task.UnsolicitedNext += length;
                task.Received += length;
            }
            if (d.Final || !task.UnsolicitedOpen)
            {
                task.UnsolicitedOpen = false;
                if (ok && task.UnsolicitedNext < task.UnsolicitedEnd)
                {
                    // The initiator ended its unsolicited burst early: ask for the rest with an R2T.
                    task.GapOffset = task.UnsolicitedNext;
                    task.GapLength = task.UnsolicitedEnd - task.UnsolicitedNext;
                }
            }
        }
        else
        {
            int i = FindSlot(task, d.TargetTransferTag);
            if (i < 0) { Log($"Data-Out with unknown TTT 0x{d.TargetTransferTag:x8} for ITT 0x{task.Itt:x8}: discarded"); return; }
            ref var slot = ref task.R2Ts[i];
            // RFC 7143 §11.7.5: DataSN counts from 0 within each R2T's sequence; offsets in order.
            ok &= d.DataSN == slot.NextDataSN && offset == slot.Offset + slot.Received && slot.Received + length <= slot.Length;
            slot.NextDataSN++;
            if (ok)
            {
                if (!task.Failed) CopyIn(task.Srb, offset, frame.Data);
                slot.Received += length;
                task.Received += length;
            }
            if (d.Final || slot.Received == slot.Length)
            {
                if (slot.Received != slot.Length) ok = false; // F before the burst was complete
                slot.Active = false;
                task.OutstandingR2T--;
            }
        }
        if (!ok)
        {
            // conformance.md: a bad DataSN, offset or length fails the command (libiscsi iSCSIdatasn).
            if (!task.Failed) Log($"ITT 0x{task.Itt:x8}: bad Data-Out (DataSN {d.DataSN}, offset {offset}, length {length}{(digestError ? ", data digest error" : "")}): the command fails");
            if (digestError) task.Fail(ScsiFacts.SenseAbortedCommand, 0x47, 0x03); // INFORMATION UNIT iuCRC ERROR DETECTED
            else task.Fail(ScsiFacts.SenseAbortedCommand, 0x4B, 0x00); // DATA PHASE ERROR
        }
        IssueR2Ts(task);
        TryStart(task);
    }

    private static int FindSlot(IscsiTask task, uint ttt)
    {
        var slots = task.R2Ts;
        for (int i = 0; i < slots.Length; i++)
            if (slots[i].Active && slots[i].TargetTransferTag == ttt) return i;
        return -1;
    }

    private void IssueR2Ts(IscsiTask task)
    {
        if (!task.Delivered || task.Failed || task.Phase != TaskPhase.Receiving || task.Aborted) return;
        int max = Math.Min(_params.MaxOutstandingR2T, task.R2Ts.Length);
        while (task.OutstandingR2T < max)
        {
            int offset, length;
            if (task.GapOffset >= 0) { offset = task.GapOffset; length = task.GapLength; task.GapOffset = -1; }
            else if (task.NextR2TOffset < task.Edtl)
            {
                offset = task.NextR2TOffset;
                length = Math.Min(_params.MaxBurstLength, task.Edtl - offset); // §13.13 MaxBurstLength per sequence
                task.NextR2TOffset += length;
            }
            else break;
            int i = 0;
            while (task.R2Ts[i].Active) i++;
            task.R2Ts[i] = new R2tSlot { Active = true, TargetTransferTag = NextTtt(), Offset = offset, Length = length };
            task.OutstandingR2T++;
            SendR2T(task, task.R2Ts[i], task.NextR2TSN++);
        }
    }

    // ------------------------------------------------------------------ execution

    private void TryStart(IscsiTask task)
    {
        if (!task.Delivered || task.Phase != TaskPhase.Receiving) return;
        if (task.Failed)
        {
            // Drain first: answer only when no unsolicited or solicited data can still arrive.
            if (!task.SequencesClosed) return;
            task.Phase = TaskPhase.Submitted;
            var srb = task.Srb;
            srb.Data.Reset();
            Span<byte> sense = stackalloc byte[18];
            ScsiFacts.FixedSense(sense, task.FailKey, task.FailAsc, task.FailAscq);
            CompleteLocally(task, ScsiStatus.CheckCondition, sense, 0);
            return;
        }
        if (!task.DataComplete) return;
        task.Phase = TaskPhase.Submitted;
        Submit(task);
    }

    private void Submit(IscsiTask task)
    {
        var srb = task.Srb;
        if (srb.OperationCode == ScsiFacts.ReportLuns) { AnswerReportLuns(task); return; }
        if (task.Lun is not { } lun) { AnswerMissingLun(task); return; }
        srb.Address = lun.Lun.Address;
        string? refused = null;
        try { ClassRetry.Submit(lun.Lun.Adapter, srb); } // the class role: a miniport timeout is logged (153) and retried
        catch (InvalidOperationException ex) { refused = ex.Message; }
        if (refused is not null)
        {
            Log($"the port refused ITT 0x{task.Itt:x8}: {refused}");
            Span<byte> sense = stackalloc byte[18];
            ScsiFacts.FixedSense(sense, ScsiFacts.SenseNotReady, 0x04, 0x01); // LOGICAL UNIT IS IN PROCESS OF BECOMING READY
            CompleteLocally(task, ScsiStatus.CheckCondition, sense, 0);
        }
    }

    /// <summary>Finishes a command the target answers itself, through the same path as a port completion.</summary>
    private void CompleteLocally(IscsiTask task, ScsiStatus status, ReadOnlySpan<byte> sense, int dataLength)
    {
        var srb = task.Srb;
        srb.ScsiStatus = status;
        srb.Status = status == ScsiStatus.Good ? SrbStatus.Success : SrbStatus.Error;
        if (!sense.IsEmpty) srb.SetSenseData(sense);
        srb.DataTransferLength = dataLength;
        OnSrbCompleted(srb);
    }

    private void AnswerReportLuns(IscsiTask task)
    {
        // SPC-4 §6.33: the target's LUN inventory, whatever LUN the command was sent to.
        var srb = task.Srb;
        var cdb = srb.Cdb;
        uint allocation = cdb.Length >= 10 ? Bhs.U32(cdb, 6) : 0;
        var luns = _session!.Target!.LunNumbers;
        if (allocation < 16 || cdb[2] > 2)
        {
            Span<byte> sense = stackalloc byte[18];
            ScsiFacts.FixedSense(sense, ScsiFacts.SenseIllegalRequest, 0x24, 0x00);
            CompleteLocally(task, ScsiStatus.CheckCondition, sense, 0);
            return;
        }
        int total = 8 + 8 * luns.Length;
        var rented = ArrayPool<byte>.Shared.Rent(total);
        int n = ScsiFacts.ReportLunsData(rented.AsSpan(0, total), luns);
        int length = (int)Math.Min(Math.Min(n, allocation), task.BufferLength);
        srb.Data.CopyFrom(0, rented.AsSpan(0, length));
        ArrayPool<byte>.Shared.Return(rented);
        CompleteLocally(task, ScsiStatus.Good, default, length);
    }

    private void AnswerMissingLun(IscsiTask task)
    {
        var srb = task.Srb;
        var cdb = srb.Cdb;
        Span<byte> data = stackalloc byte[36];
        Span<byte> sense = stackalloc byte[18];
        switch (srb.OperationCode)
        {
            case ScsiFacts.Inquiry:
            {
                // SPC-4 §6.6.2: PERIPHERAL QUALIFIER 011b, DEVICE TYPE 1Fh for a LUN that is not there.
                int n = ScsiFacts.MissingLunInquiry(cdb, data);
                int allocation = (cdb[3] << 8) | cdb[4];
                int length = Math.Min(Math.Min(n, allocation), task.BufferLength);
                srb.Data.CopyFrom(0, data[..length]);
                CompleteLocally(task, ScsiStatus.Good, default, length);
                return;
            }
            case ScsiFacts.RequestSense:
            {
                // SPC-4 §6.39: sense data describing LOGICAL UNIT NOT SUPPORTED, with GOOD status.
                ScsiFacts.FixedSense(data, ScsiFacts.SenseIllegalRequest, 0x25, 0x00);
                int length = Math.Min(Math.Min(18, (int)cdb[4]), task.BufferLength);
                srb.Data.CopyFrom(0, data[..length]);
                CompleteLocally(task, ScsiStatus.Good, default, length);
                return;
            }
            default:
                ScsiFacts.FixedSense(sense, ScsiFacts.SenseIllegalRequest, 0x25, 0x00);
                CompleteLocally(task, ScsiStatus.CheckCondition, sense, 0);
                return;
        }
    }

    // ------------------------------------------------------------------ completion

    /// <inheritdoc/>
    public void OnSrbCompleted(Srb srb)
    {
        switch (srb.OriginalRequest)
        {
            case IscsiTask task: OnTaskCompleted(task); break;
            case AbortContext abort: OnAbortSrbCompleted(srb, abort); break;
            case TmfOperation op: srb.Release(); TmfStep(op); break;
        }
    }

    private void OnTaskCompleted(IscsiTask task)
    {
        SnoopBlockSize(task);
        bool aborted;
        lock (_taskLock)
        {
            if (_tasks.TryGetValue(task.Itt, out var current) && current == task) _tasks.Remove(task.Itt);
            aborted = task.Aborted;
            task.Phase = TaskPhase.Done;
        }
        if (!aborted && !_closed)
        {
            SendCommandResult(task);
            task.Lun?.Lun.Adapter.MarkReplySent(task.Srb); // trace: the response is queued on the connection
        }
        else if (task.HoldsCredit) lock (_sendLock) ReturnCreditLocked();
        task.HoldsCredit = false;
        FinishTask(task);
    }

    /// <summary>Drops the command's reference; the SRB and task go back to their pools when no abort still points at the SRB.</summary>
    private void FinishTask(IscsiTask task)
    {
        var waiter = task.AbortWaiter;
        task.AbortWaiter = null;
        DropTaskReference(task);
        if (waiter is not null) TmfStep(waiter);
    }

    private static void DropTaskReference(IscsiTask task)
    {
        if (Interlocked.Decrement(ref task.References) != 0) return;
        task.Srb.Release();
        task.Return();
    }

    private static void SnoopBlockSize(IscsiTask task)
    {
        // The block size makes write/read residuals exact (ScsiFacts.ExpectedDataBytes); learn it from
        // READ CAPACITY answers passing through.
        var srb = task.Srb;
        if (task.Lun is not { } lun || srb.Status != SrbStatus.Success) return;
        Span<byte> data = stackalloc byte[12];
        if (srb.OperationCode == ScsiFacts.ReadCapacity10 && srb.DataTransferLength >= 8)
        {
            srb.Data.CopyTo(0, data[..8]);
            uint bs = Bhs.U32(data, 4);
            if (bs is >= 512 and <= 1 << 20) lun.BlockSize = (int)bs;
        }
        else if (srb.OperationCode == ScsiFacts.ServiceActionIn16 && (srb.Cdb[1] & 0x1F) == ScsiFacts.ReadCapacity16ServiceAction && srb.DataTransferLength >= 12)
        {
            srb.Data.CopyTo(0, data);
            uint bs = Bhs.U32(data, 8);
            if (bs is >= 512 and <= 1 << 20) lun.BlockSize = (int)bs;
        }
    }
}
