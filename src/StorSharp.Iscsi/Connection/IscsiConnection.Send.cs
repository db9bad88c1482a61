using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Session;
using StorSharp.Port;

namespace StorSharp.Iscsi.Connection;

internal sealed partial class IscsiConnection
{
    // Every writer below runs under _sendLock: it orders StatSN with the bytes on the wire and keeps
    // the pipe writer single-producer. The pipe never pauses (pauseWriterThreshold 0), so a flush
    // completes at once; the receive loop stops reading when too much output is queued instead.

    private async Task SendPumpAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                long length = buffer.Length;
                if (length > 0)
                {
                    if (buffer.IsSingleSegment) await SendAllAsync(buffer.First).ConfigureAwait(false);
                    else await SendGatherAsync(buffer).ConfigureAwait(false);
                }
                reader.AdvanceTo(buffer.End);
                if (length > 0 && Interlocked.Add(ref _pendingOut, -length) <= OutputHighWater / 2 && _drainWaiter is not null)
                {
                    lock (_sendLock) { _drainWaiter?.TrySetResult(); _drainWaiter = null; }
                }
                if (result.IsCompleted) break;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            Close($"send failed: {ex.Message}");
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { }
            _socket.Dispose();
        }
    }

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
            data = data[n..];
        }
    }

    private async ValueTask SendGatherAsync(ReadOnlySequence<byte> buffer)
    {
        // One gather send for a reply that spans pipe segments (header and payload in one send).
        _gather.Clear();
        foreach (var segment in buffer)
        {
            if (!MemoryMarshal.TryGetArray(segment, out var array)) { _gather.Clear(); break; }
            _gather.Add(array);
        }
        if (_gather.Count == 0)
        {
            foreach (var segment in buffer) await SendAllAsync(segment).ConfigureAwait(false);
            return;
        }
        long total = buffer.Length;
        int sent = await _socket.SendAsync(_gather, SocketFlags.None).ConfigureAwait(false);
        if (sent < total)
        {
            foreach (var segment in buffer.Slice(sent)) await SendAllAsync(segment).ConfigureAwait(false);
        }
    }

    /// <summary>Flushes what was written under the lock; the pump sends it.</summary>
    private void CommitLocked(int bytes)
    {
        Interlocked.Add(ref _pendingOut, bytes);
        var flush = _output.Writer.FlushAsync();
        if (flush.IsCompleted) flush.GetAwaiter().GetResult();
        else flush.AsTask().ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
    }

    private uint ExpCmdSN => _session is { } s ? Volatile.Read(ref s.ExpCmdSN) : 0;
    private uint MaxCmdSN => _session is { } s ? Volatile.Read(ref s.MaxCmdSN) : 0;

    /// <summary>
    /// Writes a target PDU whose StatSN (bytes 24-27), ExpCmdSN (28-31) and MaxCmdSN (32-35) this
    /// method fills in. <paramref name="advanceStatSN"/>: the PDU consumes a StatSN (a status PDU).
    /// </summary>
    private void SendControl(Span<byte> bhs, ReadOnlySpan<byte> data, bool advanceStatSN, bool returnCredit = false)
    {
        lock (_sendLock)
        {
            if (_closed) return;
            if (returnCredit) ReturnCreditLocked();
            Bhs.U32(bhs, 24, _statSN);
            if (advanceStatSN) _statSN++;
            Bhs.U32(bhs, 28, ExpCmdSN);
            Bhs.U32(bhs, 32, MaxCmdSN);
            WriteFrameLocked(bhs, data);
        }
    }

    private void WriteFrameLocked(ReadOnlySpan<byte> bhs, ReadOnlySpan<byte> data)
    {
        bool hd = _params.HeaderDigest && _session is not null, dd = _params.DataDigest && _session is not null;
        int length = PduFramer.FrameLength(0, data.Length, hd, dd);
        var span = _output.Writer.GetSpan(length);
        PduFramer.Write(span, bhs, default, data, hd, dd);
        _output.Writer.Advance(length);
        CommitLocked(length);
    }

    private void ReturnCreditLocked()
    {
        // RFC 7143 §4.2.2.1: MaxCmdSN grows as commands finish, so the window stays CommandWindow wide.
        if (_session is { } s) Interlocked.Increment(ref Unsafe32(ref s.MaxCmdSN));
    }

    private static ref int Unsafe32(ref uint value) => ref System.Runtime.CompilerServices.Unsafe.As<uint, int>(ref value);

    private void SendReject(RejectReason reason, ReadOnlySpan<byte> rejectedHeader)
    {
        Span<byte> bhs = stackalloc byte[Bhs.Size];
        new RejectPdu { Reason = reason }.WriteTo(bhs);
        SendControl(bhs, rejectedHeader[..Bhs.Size], advanceStatSN: true);
    }

    private void SendPing(long now)
    {
        if (_session is null) return;
        uint ttt = NextTtt();
        Span<byte> bhs = stackalloc byte[Bhs.Size];
        new NopInPdu { Lun = 0, InitiatorTaskTag = Bhs.ReservedTag, TargetTransferTag = ttt }.WriteTo(bhs);
        _pingTtt = ttt;
        Volatile.Write(ref _pingSent, now);
        // RFC 7143 §11.19: a NOP-In with ITT 0xffffffff does not advance StatSN.
        SendControl(bhs, default, advanceStatSN: false);
    }

    private uint NextTtt()
    {
        uint t = Interlocked.Increment(ref Unsafe32(ref _nextTtt)) is var v ? (uint)v : 0;
        if (t == Bhs.ReservedTag) t = Interlocked.Increment(ref Unsafe32(ref _nextTtt)) is var w ? (uint)w : 1;
        return t;
    }

    /// <summary>Sends an R2T for one slot of <paramref name="task"/> (RFC 7143 §11.8: StatSN is not advanced).</summary>
    private void SendR2T(IscsiTask task, in R2tSlot slot, uint r2tsn)
    {
        Span<byte> bhs = stackalloc byte[Bhs.Size];
        new R2tPdu
        {
            Lun = task.LunField,
            InitiatorTaskTag = task.Itt,
            TargetTransferTag = slot.TargetTransferTag,
            R2TSN = r2tsn,
            BufferOffset = (uint)slot.Offset,
            DesiredDataTransferLength = (uint)slot.Length,
        }.WriteTo(bhs);
        SendControl(bhs, default, advanceStatSN: false);
    }

    /// <summary>
    /// Sends the outcome of a command: Data-In PDUs straight from the SRB's buffer (the last with
    /// the status when there is no sense, RFC 7143 §11.7.4), or a SCSI Response with sense.
    /// </summary>
    private void SendCommandResult(IscsiTask task)
    {
        var srb = task.Srb;
        Span<byte> scratch = stackalloc byte[18];
        MapStatus(srb, out byte status, out ReadOnlySpan<byte> sense, out bool targetFailure, scratch);

        // Residuals (RFC 7143 §11.4.5) against the expected data transfer length. For writes the
        // CDB's own length (SPDTL) decides when known; otherwise the bytes the SRB moved.
        long moved = Math.Clamp((long)srb.DataTransferLength, 0, task.BufferLength);
        if (task.Direction == DataDirection.Out && task.Spdtl >= 0) moved = task.Spdtl;
        // A failed request sends no data: its buffer may hold bytes it never wrote (a rented buffer
        // must not leak another request's data).
        if (task.Direction == DataDirection.In && srb.Status is not (SrbStatus.Success or SrbStatus.DataOverrun)) moved = 0;
        long edtl = task.Edtl;
        bool overflow = false, underflow = false;
        uint residual = 0;
        if (task.OverflowResidual > 0) { overflow = true; residual = task.OverflowResidual; }
        else if (task.Direction == DataDirection.None) { if (edtl > 0) { underflow = true; residual = (uint)edtl; } }
        else if (moved > edtl) { overflow = true; residual = (uint)(moved - edtl); }
        else if (moved < edtl) { underflow = true; residual = (uint)(edtl - moved); }
        int dataIn = task.Direction == DataDirection.In ? (int)Math.Min(moved, edtl) : 0;
        bool statusInData = dataIn > 0 && sense.IsEmpty && !targetFailure && status is 0x00 or 0x04;

        lock (_sendLock)
        {
            if (_closed) return;
            if (task.HoldsCredit) { ReturnCreditLocked(); task.HoldsCredit = false; }
            int written = 0;
            if (dataIn > 0) written += WriteDataInLocked(task, dataIn, statusInData, status, overflow, underflow, residual);
            if (!statusInData)
            {
                Span<byte> bhs = stackalloc byte[Bhs.Size];
                new ScsiResponsePdu
                {
                    Response = targetFailure ? ScsiResponseCode.TargetFailure : ScsiResponseCode.CommandCompletedAtTarget,
                    Status = targetFailure ? (byte)0 : status,
                    Overflow = overflow,
                    Underflow = underflow,
                    ResidualCount = residual,
                    InitiatorTaskTag = task.Itt,
                    StatSN = _statSN++,
                    ExpCmdSN = ExpCmdSN,
                    MaxCmdSN = MaxCmdSN,
                    ExpDataSN = task.Direction == DataDirection.In ? task.DataInCount : task.NextR2TSN,
                }.WriteTo(bhs);
                Span<byte> senseData = stackalloc byte[2 + Srb.MaxSenseLength];
                int senseLength = 0;
                if (!sense.IsEmpty && !targetFailure)
                {
                    // RFC 7143 §11.4.7: SenseLength (2 bytes) then the sense data.
                    Bhs.U16(senseData, 0, (ushort)sense.Length);
                    sense.CopyTo(senseData[2..]);
                    senseLength = 2 + sense.Length;
                }
                WriteFrameLocked(bhs, senseData[..senseLength]);
            }
            _ = written;
        }
    }

    private int WriteDataInLocked(IscsiTask task, int length, bool withStatus, byte status, bool overflow, bool underflow, uint residual)
    {
        bool hd = _params.HeaderDigest, dd = _params.DataDigest;
        int maxSegment = _params.InitiatorMaxRecvDataSegmentLength;
        int maxBurst = _params.MaxBurstLength;
        var srb = task.Srb;
        int offset = 0, total = 0, burstUsed = 0;
        uint dataSN = 0;
        while (offset < length)
        {
            // RFC 7143 §11.7.7: each Data-In at most MaxRecvDataSegmentLength of the initiator; F closes
            // each sequence of at most MaxBurstLength (§13.13) and the last one.
            int chunk = Math.Min(maxSegment, Math.Min(length - offset, maxBurst - burstUsed));
            bool last = offset + chunk == length;
            burstUsed += chunk;
            bool final = last || burstUsed == maxBurst;
            if (burstUsed == maxBurst) burstUsed = 0;
            int frameLength = PduFramer.FrameLength(0, chunk, hd, dd);
            var span = _output.Writer.GetSpan(frameLength);
            var pdu = new DataInPdu
            {
                Final = final,
                Lun = task.LunField,
                InitiatorTaskTag = task.Itt,
                TargetTransferTag = Bhs.ReservedTag,
                ExpCmdSN = ExpCmdSN,
                MaxCmdSN = MaxCmdSN,
                DataSN = dataSN++,
                BufferOffset = (uint)offset,
            };
            if (last && withStatus)
            {
                pdu.StatusPresent = true;
                pdu.Final = true;
                pdu.Status = status;
                pdu.StatSN = _statSN++;
                pdu.Overflow = overflow;
                pdu.Underflow = underflow;
                pdu.ResidualCount = residual;
            }
            pdu.WriteTo(span);
            srb.Data.CopyTo(offset, span.Slice(PduFramer.DataOffset(hd), chunk));
            PduFramer.Seal(span, chunk, hd, dd);
            _output.Writer.Advance(frameLength);
            total += frameLength;
            offset += chunk;
            if (total >= 1024 * 1024) { CommitLocked(total); total = 0; }
        }
        task.DataInCount = dataSN;
        if (total > 0) CommitLocked(total);
        return total;
    }

    /// <summary>Turns the SRB's outcome into a SCSI status and sense data (SAM-5 §5.3; SPC-4 §4.5).</summary>
    private static void MapStatus(Srb srb, out byte status, out ReadOnlySpan<byte> sense, out bool targetFailure, Span<byte> scratch)
    {
        targetFailure = false;
        sense = default;
        switch (srb.Status)
        {
            case SrbStatus.Success:
            case SrbStatus.DataOverrun:
                status = (byte)srb.ScsiStatus;
                if (status == (byte)ScsiStatus.CheckCondition && (srb.StatusFlags & SrbStatusFlags.AutosenseValid) != 0) sense = srb.SenseData;
                return;
            case SrbStatus.Error when srb.ScsiStatus != ScsiStatus.Good:
                status = (byte)srb.ScsiStatus;
                if ((srb.StatusFlags & SrbStatusFlags.AutosenseValid) != 0 && srb.SenseDataLength > 0) sense = srb.SenseData;
                else if (status == (byte)ScsiStatus.CheckCondition) { ScsiFacts.FixedSense(scratch, ScsiFacts.SenseHardwareError, 0x44, 0x00); sense = scratch[..18]; }
                return;
            case SrbStatus.Busy:
            case SrbStatus.InsufficientResources:
                status = (byte)ScsiStatus.Busy;
                return;
        }
        status = (byte)ScsiStatus.CheckCondition;
        var (key, asc, ascq) = srb.Status switch
        {
            SrbStatus.Aborted or SrbStatus.BusReset or SrbStatus.RequestFlushed or SrbStatus.Timeout or SrbStatus.CommandTimeout
                => (ScsiFacts.SenseAbortedCommand, (byte)0x00, (byte)0x00),
            SrbStatus.NoDevice or SrbStatus.InvalidLun or SrbStatus.InvalidTargetId or SrbStatus.InvalidPathId or SrbStatus.SelectionTimeout
                => (ScsiFacts.SenseIllegalRequest, (byte)0x25, (byte)0x00), // LOGICAL UNIT NOT SUPPORTED
            SrbStatus.InvalidRequest or SrbStatus.BadFunction
                => (ScsiFacts.SenseIllegalRequest, (byte)0x24, (byte)0x00), // INVALID FIELD IN CDB
            SrbStatus.LinkDown or SrbStatus.NoHba or SrbStatus.NotPowered
                => (ScsiFacts.SenseNotReady, (byte)0x04, (byte)0x00), // LOGICAL UNIT NOT READY
            _ => (ScsiFacts.SenseHardwareError, (byte)0x44, (byte)0x00), // INTERNAL TARGET FAILURE
        };
        ScsiFacts.FixedSense(scratch, key, asc, ascq);
        sense = scratch[..18];
    }
}
