using System.Buffers;
using System.Runtime.CompilerServices;
using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Scsi;

/// <summary>
/// One request while the miniport holds it (SAM's task): its SRB, its unit, and the machinery
/// that moves its data to or from the block device. Pooled per unit: a READ or WRITE allocates
/// nothing, whether the device completes inline or later.
/// </summary>
/// <remarks>
/// <para>Every result is written through one gate, <see cref="TryClaim"/>: whoever moves the
/// state from Running first decides how the SRB ends. A reset moves it to Discarded (the port
/// completes the SRB with BUS_RESET; the late backend result is thrown away and the SRB is handed
/// back only so the port can drop its hold). An abort moves it to Aborting (the SRB completes
/// with ABORTED once the backend call returns, then the abort request completes). So a backend
/// that finishes late never completes an SRB twice and never writes into a buffer the port has
/// recycled: the port keeps the SRB out of its pool until the miniport hands it back.</para>
/// </remarks>
internal sealed class ScsiTask
{
    private const int Running = 0, Completing = 1, Aborting = 2, Discarded = 3;

    private enum IoKind : byte { None, Read, Write, Flush }

    private readonly Action _onIoCompleted;
    private int _state;
    private Srb? _abort;
    private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _awaiter;

    // The block I/O in progress.
    private IoKind _kind;
    private long _lba;
    private int _blockSize;
    private int _ioBytes;
    private int _copyBytes;
    private long _commandBytes;
    private BlockWriteFlags _writeFlags;
    private int _segment;
    private int _done;
    private int _pieceLength;
    private byte[]? _bounce;
    private bool _flushFunction;
    private bool _finished;

    internal ScsiTask? Prev, Next;

    // The range a plain WRITE is about to change, published before it checks the range locks
    // (and read by lockers through DiskUnit.HasOverlappingWrite). -1 when none.
    private long _writeStart = -1, _writeEnd;

    public ScsiTask() => _onIoCompleted = OnIoCompleted;

    public Srb Srb { get; private set; } = null!;

    /// <summary>The LU's state for the nexus the request came on; set at dispatch.</summary>
    public NexusState? Nexus { get; set; }

    public DiskUnit Unit { get; private set; } = null!;

    /// <summary>Bumped on every reuse, so a stale reference can tell it no longer owns the task.</summary>
    public int Generation { get; private set; }

    /// <summary>The room the submitter gave for data: the expected data transfer length (iSCSI EDTL).</summary>
    public int BufferLength { get; private set; }

    public ReadOnlySpan<byte> Cdb => Srb.Cdb;

    public IBlockDevice Device => Unit.Device!;

    internal void Start(DiskUnit unit, Srb srb)
    {
        Unit = unit;
        Srb = srb;
        Generation++;
        _state = Running;
        _abort = null;
        _kind = IoKind.None;
        _bounce = null;
        _finished = false;
        Nexus = null;
        Volatile.Write(ref _writeStart, -1);
        BufferLength = (int)Math.Min(Math.Max(srb.DataTransferLength, 0), srb.Data.Length);
    }

    public bool IsRunning => Volatile.Read(ref _state) == Running;

    // ------------------------------------------------------------------ the gate

    private bool TryClaim() => Interlocked.CompareExchange(ref _state, Completing, Running) == Running;

    /// <summary>Reset: Running or Aborting become Discarded. Returns an abort request that was waiting on this task.</summary>
    internal Srb? TryDiscard()
    {
        while (true)
        {
            int s = Volatile.Read(ref _state);
            if (s is Completing or Discarded) return null;
            if (Interlocked.CompareExchange(ref _state, Discarded, s) == s)
                return Interlocked.Exchange(ref _abort, null);
        }
    }

    /// <summary>Abort: Running becomes Aborting; <paramref name="abort"/> completes after the task does.</summary>
    internal bool TryMarkAborted(Srb abort)
    {
        Volatile.Write(ref _abort, abort);
        if (Interlocked.CompareExchange(ref _state, Aborting, Running) == Running) return true;
        Interlocked.CompareExchange(ref _abort, null, abort);
        return false;
    }

    /// <summary>The task lost the gate to a reset or an abort: hand the SRB back the way they decided.</summary>
    private void FinishOverridden()
    {
        var srb = Srb;
        var port = Unit.Miniport.Port;
        var abort = Interlocked.Exchange(ref _abort, null);
        // BUS_RESET is what the port itself sets when it completes a request a reset covered, so
        // writing it cannot contradict what the submitter already saw.
        _finished = true;
        srb.Status = Volatile.Read(ref _state) == Discarded ? SrbStatus.BusReset : SrbStatus.Aborted;
        if (srb.Status == SrbStatus.Aborted) srb.DataTransferLength = 0;
        Unit.End(this);
        port.CompleteRequest(srb);
        if (abort is not null)
        {
            abort.Status = SrbStatus.Success;
            port.CompleteRequest(abort);
        }
    }

    private void Finish()
    {
        var srb = Srb;
        var port = Unit.Miniport.Port;
        var abort = Interlocked.Exchange(ref _abort, null);
        _finished = true;
        Unit.End(this);
        port.CompleteRequest(srb);
        if (abort is not null)
        {
            abort.Status = SrbStatus.Success;
            port.CompleteRequest(abort);
        }
    }

    // ------------------------------------------------------------------ range locks

    /// <summary>
    /// Publishes the range a plain WRITE will change, then reports whether a range lock is in the
    /// way. Publish-then-check here and lock-then-scan in <see cref="RunLocked"/> make sure one of
    /// the two sees the other (each side writes, then fences, then reads).
    /// </summary>
    public bool PublishWrite(long start, long end)
    {
        Volatile.Write(ref _writeEnd, end);
        Volatile.Write(ref _writeStart, start);
        Interlocked.MemoryBarrier();
        if (Unit.Ranges.IsIdle || !Unit.Ranges.Overlaps(start, end)) return true;
        Volatile.Write(ref _writeStart, -1);
        return false;
    }

    /// <summary>True when this task has published a write that overlaps [start, end).</summary>
    public bool WriteOverlaps(long start, long end)
    {
        long s = Volatile.Read(ref _writeStart);
        return s >= 0 && s < end && start < Volatile.Read(ref _writeEnd);
    }

    /// <summary>A plain WRITE that met a range lock: wait for the range, publish again, then write.</summary>
    public void StartBlockIoAfterLocks(long lba, long blocks, long commandBytes, BlockWriteFlags flags) => Run(async t =>
    {
        do await t.Unit.Ranges.WaitUntilFreeAsync(lba, lba + blocks).ConfigureAwait(false);
        while (!t.PublishWrite(lba, lba + blocks));
        t.StartBlockIo(true, lba, commandBytes, flags);
    }, writing: true);

    /// <summary>
    /// Runs <paramref name="body"/> holding an exclusive lock on [start, end), after every plain
    /// WRITE already in flight on that range has finished: the body's read-modify-write is atomic
    /// against every other writer.
    /// </summary>
    public void RunLocked(long start, long end, Func<ScsiTask, ValueTask> body) => Run(async t =>
    {
        using var holder = await t.Unit.Ranges.AcquireAsync(start, end).ConfigureAwait(false);
        Interlocked.MemoryBarrier();
        while (t.Unit.HasOverlappingWrite(t, start, end)) await Task.Delay(1).ConfigureAwait(false);
        await body(t).ConfigureAwait(false);
    }, writing: true);

    // ------------------------------------------------------------------ helpers for handlers

    /// <summary>Copies the data-out buffer (up to <see cref="BufferLength"/>) into <paramref name="destination"/>; returns the bytes copied.</summary>
    public int ReadDataOut(Span<byte> destination) => Srb.Data.CopyTo(0, destination[..Math.Min(destination.Length, BufferLength)]);

    /// <summary>
    /// Runs an asynchronous handler body (for commands off the hot path, where an async state
    /// machine per request is acceptable). The body completes the task; if it throws first, the
    /// exception is mapped to sense data.
    /// </summary>
    public void Run(Func<ScsiTask, ValueTask> body, bool writing) => _ = RunAsync(body, writing);

    private async Task RunAsync(Func<ScsiTask, ValueTask> body, bool writing)
    {
        int generation = Generation;
        try
        {
            await body(this).ConfigureAwait(false);
        }
        catch (Exception ex) when (Generation == generation && !_finished)
        {
            CompleteException(ex, writing, 0);
        }
    }

    // ------------------------------------------------------------------ results

    /// <summary>Completes a request that is not a SCSI command (FLUSH, SHUTDOWN) with an SRB status.</summary>
    public void Complete(SrbStatus status)
    {
        if (!TryClaim()) { FinishOverridden(); return; }
        Srb.Status = status;
        Srb.DataTransferLength = 0;
        Finish();
    }

    /// <summary>GOOD with no data.</summary>
    public void CompleteGood() => CompleteTransfer(0);

    /// <summary>A status other than GOOD or CHECK CONDITION (CONDITION MET, RESERVATION CONFLICT), with no data.</summary>
    public void CompleteStatus(ScsiStatus status)
    {
        if (status == ScsiStatus.Good) { CompleteGood(); return; }
        if (!TryClaim()) { FinishOverridden(); return; }
        Srb.ScsiStatus = status;
        Srb.DataTransferLength = 0;
        Srb.Status = status is ScsiStatus.ConditionMet ? SrbStatus.Success : SrbStatus.Error;
        Finish();
    }

    /// <summary>
    /// GOOD after the data moved; <paramref name="commandBytes"/> is what the command transfers
    /// by its CDB. See <see cref="SrbResult.SetTransfer"/> for the residual rule.
    /// </summary>
    public void CompleteTransfer(long commandBytes, ScsiStatus status = ScsiStatus.Good)
    {
        if (!TryClaim()) { FinishOverridden(); return; }
        SrbResult.SetTransfer(Srb, BufferLength, commandBytes);
        if (status != ScsiStatus.Good) Srb.ScsiStatus = status;
        Finish();
    }

    /// <summary>GOOD with data-in: at most <paramref name="allocationLength"/> bytes of <paramref name="data"/>.</summary>
    public void CompleteDataIn(ReadOnlySpan<byte> data, long allocationLength)
    {
        if (!TryClaim()) { FinishOverridden(); return; }
        SrbResult.SetDataIn(Srb, BufferLength, data, allocationLength);
        Finish();
    }

    /// <summary>CHECK CONDITION with sense data.</summary>
    public void CompleteCheckCondition(SenseCode code, SenseKeySpecific specific = default, ulong? information = null)
    {
        if (!TryClaim()) { FinishOverridden(); return; }
        Span<byte> sense = stackalloc byte[SenseData.MaxLength];
        int n = SenseData.Write(sense, Unit.DescriptorSense, code, specific, information);
        if (!SrbResult.SetCheckCondition(Srb, sense[..n])) Unit.SetPendingSense(Srb.Nexus, sense[..n]);
        Finish();
    }

    /// <summary>CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN CDB with a field pointer.</summary>
    public void CompleteInvalidField(int byteIndex, int bit = -1) =>
        CompleteCheckCondition(SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(byteIndex, bit));

    /// <summary>Maps a block device failure to sense data (see docs/scsi-disk.md, "Sense conventions").</summary>
    public void CompleteException(Exception exception, bool writing, long lba)
    {
        var code = exception switch
        {
            BlockDeviceException { Error: BlockError.OutOfRange } => SenseCodes.LbaOutOfRange,
            BlockDeviceException { Error: BlockError.ReadOnly } => SenseCodes.WriteProtected,
            BlockDeviceException { Error: BlockError.MediumError } => writing ? SenseCodes.WriteError : SenseCodes.UnrecoveredReadError,
            BlockDeviceException { Error: BlockError.NotReady } => SenseCodes.NotReadyCauseNotReportable,
            BlockDeviceException { Error: BlockError.NoSpace } => SenseCodes.SpaceAllocationFailedWriteProtect,
            OperationCanceledException => SenseCodes.AbortedCommand,
            _ => SenseCodes.InternalTargetFailure,
        };
        ulong? information = code == SenseCodes.UnrecoveredReadError || code == SenseCodes.WriteError ? (ulong)lba : null;
        CompleteCheckCondition(code, default, information);
    }

    // ------------------------------------------------------------------ block I/O engine

    /// <summary>
    /// Reads or writes the blocks of a READ/WRITE command and completes the task.
    /// <paramref name="commandBytes"/> is the CDB's transfer length in bytes; what moves is bounded
    /// by the buffer (a write moves whole blocks only, a read may end inside a block).
    /// </summary>
    public void StartBlockIo(bool write, long lba, long commandBytes, BlockWriteFlags flags)
    {
        int blockSize = Device.Geometry.LogicalBlockSize;
        long limit = Math.Min(commandBytes, BufferLength);
        _kind = write ? IoKind.Write : IoKind.Read;
        _lba = lba;
        _blockSize = blockSize;
        _commandBytes = commandBytes;
        _writeFlags = flags;
        _segment = 0;
        _done = 0;
        if (write)
        {
            // RFC 7143 §11.4.5.1 residual rules as libiscsi's iSCSIResiduals suite checks them:
            // with less data than the CDB asks for, only the whole blocks that arrived are written.
            _ioBytes = (int)(limit / blockSize * blockSize);
            _copyBytes = _ioBytes;
        }
        else
        {
            _copyBytes = (int)limit;
            _ioBytes = (int)Math.Min(commandBytes, (limit + blockSize - 1) / blockSize * blockSize);
        }
        if (_ioBytes == 0) { CompleteTransfer(commandBytes); return; }
        if (_copyBytes != _ioBytes || !SegmentsHoldWholeBlocks())
        {
            // The buffer does not split into whole blocks: go through one pooled bounce buffer.
            _bounce = ArrayPool<byte>.Shared.Rent(_ioBytes);
            if (write) Srb.Data.CopyTo(0, _bounce.AsSpan(0, _ioBytes));
        }
        Pump();
    }

    /// <summary>Flushes the device, then completes (SYNCHRONIZE CACHE, or the FLUSH / SHUTDOWN functions when <paramref name="srbFunction"/>).</summary>
    public void StartFlush(bool srbFunction)
    {
        _kind = IoKind.Flush;
        _flushFunction = srbFunction;
        _ioBytes = 1;
        _done = 0;
        Pump();
    }

    private bool SegmentsHoldWholeBlocks()
    {
        var data = Srb.Data;
        int remaining = _ioBytes;
        for (int i = 0; i < data.Count && remaining > 0; i++)
        {
            int piece = Math.Min(data[i].Length, remaining);
            if (piece % _blockSize != 0) return false;
            remaining -= piece;
        }
        return remaining == 0;
    }

    private void Pump()
    {
        try
        {
            while (_done < _ioBytes)
            {
                if (!IsRunning && _kind != IoKind.Flush) break; // reset or aborted: stop issuing
                ValueTask pending;
                if (_kind == IoKind.Flush)
                {
                    _pieceLength = 1;
                    pending = Device.FlushAsync();
                }
                else
                {
                    Memory<byte> piece;
                    if (_bounce is not null) piece = _bounce.AsMemory(0, _ioBytes);
                    else
                    {
                        var segment = Srb.Data[_segment];
                        piece = segment[..Math.Min(segment.Length, _ioBytes - _done)];
                    }
                    _pieceLength = piece.Length;
                    long lba = _lba + _done / _blockSize;
                    pending = _kind == IoKind.Write ? Device.WriteAsync(lba, piece, _writeFlags) : Device.ReadAsync(lba, piece);
                }
                var awaiter = pending.ConfigureAwait(false).GetAwaiter();
                if (!awaiter.IsCompleted)
                {
                    _awaiter = awaiter;
                    _awaiter.UnsafeOnCompleted(_onIoCompleted);
                    return;
                }
                awaiter.GetResult();
                Advance();
            }
        }
        catch (Exception ex)
        {
            FailIo(ex);
            return;
        }
        FinishIo();
    }

    private void Advance()
    {
        _done += _pieceLength;
        _segment++;
    }

    private void OnIoCompleted()
    {
        var awaiter = _awaiter;
        _awaiter = default;
        try { awaiter.GetResult(); }
        catch (Exception ex)
        {
            FailIo(ex);
            return;
        }
        Advance();
        Pump();
    }

    private void FailIo(Exception ex)
    {
        Srb.MarkBackendDone();
        ReturnBounce();
        var kind = _kind;
        _kind = IoKind.None;
        if (kind == IoKind.Flush && _flushFunction) { Complete(SrbStatus.Error); return; }
        CompleteException(ex, kind == IoKind.Write, _lba + _done / Math.Max(_blockSize, 1));
    }

    private void FinishIo()
    {
        Srb.MarkBackendDone();
        var kind = _kind;
        _kind = IoKind.None;
        if (kind == IoKind.Flush)
        {
            if (_flushFunction) Complete(SrbStatus.Success); else CompleteGood();
            return;
        }
        if (_bounce is not null && kind == IoKind.Read && IsRunning) Srb.Data.CopyFrom(0, _bounce.AsSpan(0, _copyBytes));
        ReturnBounce();
        CompleteTransfer(_commandBytes);
    }

    private void ReturnBounce()
    {
        if (_bounce is null) return;
        ArrayPool<byte>.Shared.Return(_bounce);
        _bounce = null;
    }
}
