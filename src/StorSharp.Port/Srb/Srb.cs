using System.Threading.Tasks.Sources;

namespace StorSharp.Port;

/// <summary>Receives an SRB when the port hands it back to the layer that submitted it.</summary>
/// <remarks>
/// Front ends implement this once per connection or session, so completing a request allocates
/// nothing. It may be called on any thread, inline from the submit call or later.
/// </remarks>
public interface ISrbCompletionHandler
{
    /// <summary>Called once per submission, when <paramref name="srb"/> is finished.</summary>
    void OnSrbCompleted(Srb srb);
}

/// <summary>
/// The SCSI request block: one request travelling from a front end through the port to a
/// miniport and back (Storport <c>SCSI_REQUEST_BLOCK</c> / <c>STORAGE_REQUEST_BLOCK</c>).
/// </summary>
/// <remarks>
/// <para>SRBs are pooled: get one from <see cref="SrbPool"/>, fill it, submit it with
/// <see cref="Adapter.Submit"/> or <see cref="Adapter.ExecuteAsync"/>, read the result, then
/// <see cref="Release"/> it. The data buffer (<see cref="Data"/>) belongs to the miniport from
/// submission until completion, and to the SRB until it is released.</para>
/// <para>When the port completes a request the miniport still holds (a reset, a surprise
/// removal), the SRB does not go back to the pool until the miniport lets go of it too, so a
/// late completion or a late write into its buffer can never touch another request.</para>
/// </remarks>
public sealed class Srb : IValueTaskSource
{
    /// <summary>The largest CDB an SRB carries (extended SRBs allow 32 bytes and more; we stop at 32).</summary>
    public const int MaxCdbLength = 32;

    /// <summary>The largest sense buffer (Storport's TotalSenseDataBytes upper bound).</summary>
    public const int MaxSenseLength = 255;

    private readonly byte[] _cdb = new byte[MaxCdbLength];
    private readonly byte[] _sense = new byte[MaxSenseLength];
    private byte[] _extension = [];
    private int _extensionLength;
    private ManualResetValueTaskSourceCore<bool> _completion = new() { RunContinuationsAsynchronously = false };
    private readonly SrbPool? _pool;

    // Engine state (owned by the port; see LogicalUnit).
    internal int State; // SrbState
    internal int RefCount;
    internal Srb? QueueNext;
    internal Srb? QueuePrev;
    internal LogicalUnit? Unit;
    internal int BusyRetries;
    internal int ClassRetries;
    internal bool CompletedByPort;
    internal bool ResetByPort;
    internal bool ResetByRequest; // a front end's task management reset ended it: the class layer does not retry it
    internal int MiniportOwned;
    internal bool Internal;
    internal long DueTimestamp;
    internal ISrbCompletionHandler? ClassHandler;
    internal Adapter? ClassAdapter;
    internal int OriginalTransferLength;
    internal long RequeuedTimestamp; // when a BUSY / QUEUE FULL answer put it back in the queue
    internal Adapter? TraceAdapter;  // set while a trace record is owed (the front end marked it received)

    internal Srb(SrbPool? pool)
    {
        _pool = pool;
        RefCount = 1;
        State = (int)SrbState.Building;
    }

    /// <summary>Creates a stand-alone SRB that is not pooled (tests, tools). Hot paths use <see cref="SrbPool.Rent"/>.</summary>
    public Srb() : this(null) { }

    // ---------------------------------------------------------------- request

    /// <summary>What the request does.</summary>
    public SrbFunction Function { get; set; }

    /// <summary>Bus, target and LUN the request is for.</summary>
    public ScsiAddress Address { get; set; }

    /// <summary>The tag that names the request in its LU's queue (Storport <c>QueueTag</c>).</summary>
    public uint QueueTag { get; set; }

    /// <summary>SIMPLE, ORDERED or HEAD OF QUEUE.</summary>
    public QueueAction QueueAction { get; set; } = QueueAction.Simple;

    /// <summary>The length of the CDB in bytes (6 to 32), 0 when none is set.</summary>
    public int CdbLength { get; private set; }

    /// <summary>The CDB (Storport <c>Cdb</c>), exactly <see cref="CdbLength"/> bytes.</summary>
    public Span<byte> Cdb => _cdb.AsSpan(0, CdbLength);

    /// <summary>Copies a CDB of 6 to 32 bytes into the SRB.</summary>
    /// <exception cref="ArgumentException">The CDB is shorter than 6 or longer than 32 bytes.</exception>
    public void SetCdb(ReadOnlySpan<byte> cdb)
    {
        if (cdb.Length is < 6 or > MaxCdbLength)
            throw new ArgumentException($"A CDB is 6 to {MaxCdbLength} bytes long; this one is {cdb.Length}.", nameof(cdb));
        cdb.CopyTo(_cdb);
        CdbLength = cdb.Length;
    }

    /// <summary>Sets the CDB length and returns the CDB to fill in place (no copy).</summary>
    public Span<byte> InitCdb(int length)
    {
        if (length is < 6 or > MaxCdbLength)
            throw new ArgumentOutOfRangeException(nameof(length), $"A CDB is 6 to {MaxCdbLength} bytes long.");
        CdbLength = length;
        var cdb = _cdb.AsSpan(0, length);
        cdb.Clear();
        return cdb;
    }

    /// <summary>The operation code, the CDB's first byte (0 when there is no CDB).</summary>
    public byte OperationCode => _cdb[0];

    /// <summary>Which way data moves.</summary>
    public DataDirection Direction { get; set; }

    /// <summary>The data buffer as a scatter/gather list.</summary>
    public ScatterGatherList Data { get; } = new();

    /// <summary>
    /// Bytes to move when submitted; set by the miniport to the bytes actually moved, so
    /// <c>Data.Length - DataTransferLength</c> is the residual (Storport <c>DataTransferLength</c>).
    /// </summary>
    public int DataTransferLength { get; set; }

    /// <summary>Seconds the port lets the request run before it resets the LU (Storport <c>TimeOutValue</c>); 0 means the LU's default.</summary>
    public uint TimeOutValue { get; set; }

    /// <summary>The I_T nexus the request arrived on.</summary>
    public InitiatorNexus Nexus { get; set; } = InitiatorNexus.Local;

    /// <summary>The submitter's own context (Storport <c>OriginalRequest</c>): a PDU, a cookie, anything.</summary>
    public object? OriginalRequest { get; set; }

    /// <summary>A number the submitter may use freely (for example the NBD cookie or the iSCSI ITT).</summary>
    public ulong RequestId { get; set; }

    /// <summary>For <see cref="SrbFunction.AbortCommand"/>: the request to abort.</summary>
    public Srb? AbortTarget { get; set; }

    /// <summary>Where the port hands the finished SRB (none: the SRB is awaited instead).</summary>
    public ISrbCompletionHandler? CompletionHandler { get; set; }

    // ---------------------------------------------------------------- result

    /// <summary>The outcome (Storport <c>SrbStatus</c> without its flag bits).</summary>
    public SrbStatus Status { get; set; }

    /// <summary>The flag bits of Storport's <c>SrbStatus</c>.</summary>
    public SrbStatusFlags StatusFlags { get; set; }

    /// <summary>The SCSI status byte; anything but GOOD goes with <see cref="SrbStatus.Error"/>.</summary>
    public ScsiStatus ScsiStatus { get; set; }

    /// <summary>Storport's combined status byte: <see cref="Status"/> ORed with <see cref="StatusFlags"/>.</summary>
    public byte RawSrbStatus => (byte)((byte)Status | (byte)StatusFlags);

    /// <summary>How many sense bytes the submitter can take, 18 to 255 (Storport <c>SenseInfoBufferLength</c>).</summary>
    public int SenseInfoBufferLength { get; set; } = MaxSenseLength;

    /// <summary>The sense buffer, <see cref="SenseInfoBufferLength"/> bytes.</summary>
    public Span<byte> SenseInfoBuffer => _sense.AsSpan(0, SenseInfoBufferLength);

    /// <summary>How many bytes of <see cref="SenseInfoBuffer"/> are valid.</summary>
    public int SenseDataLength { get; private set; }

    /// <summary>The valid sense bytes.</summary>
    public ReadOnlySpan<byte> SenseData => _sense.AsSpan(0, SenseDataLength);

    /// <summary>Copies sense data into the SRB (truncated to the buffer) and marks it valid (AUTOSENSE_VALID).</summary>
    public void SetSenseData(ReadOnlySpan<byte> sense)
    {
        int n = Math.Min(sense.Length, SenseInfoBufferLength);
        sense[..n].CopyTo(_sense);
        SenseDataLength = n;
        StatusFlags |= SrbStatusFlags.AutosenseValid;
    }

    /// <summary>True when the request finished with SUCCESS (a data underrun is not success).</summary>
    public bool IsSuccess => Status == SrbStatus.Success;

    // ---------------------------------------------------------------- miniport's space

    /// <summary>
    /// The miniport's per-request scratch space (Storport <c>SrbExtension</c>), as large as the
    /// registration's <see cref="VirtualMiniportRegistration.SrbExtensionSize"/>, zeroed per request.
    /// </summary>
    public Span<byte> SrbExtension => _extension.AsSpan(0, _extensionLength);

    /// <summary>An object the miniport may hang on the request while it owns it.</summary>
    public object? MiniportContext { get; set; }

    // ---------------------------------------------------------------- timing (for statistics)

    // Every stamp is a timestamp of the port's clock (TimeProvider.GetTimestamp: Stopwatch ticks in
    // production); 0 means the stage was not reached or not marked. They are taken always (they feed
    // the per-LU performance summary and the trace), cost one clock read each and allocate nothing.

    /// <summary>When the front end received the request from the wire (<see cref="Adapter.MarkReceived"/>); 0 when the submitter does not mark it.</summary>
    public long ReceivedTimestamp { get; internal set; }

    /// <summary>When the port accepted the request and queued it (a <see cref="TimeProvider"/> timestamp).</summary>
    public long SubmitTimestamp { get; internal set; }

    /// <summary>When the miniport's StartIo was called (a <see cref="TimeProvider"/> timestamp); after a BUSY retry, the last start.</summary>
    public long StartTimestamp { get; internal set; }

    /// <summary>When the miniport's backend call (the block device's read, write, flush or unmap) returned (<see cref="MarkBackendDone"/>); 0 when the miniport does not mark it.</summary>
    public long BackendDoneTimestamp { get; internal set; }

    /// <summary>When the port handed the finished request back to its submitter.</summary>
    public long CompletedTimestamp { get; internal set; }

    /// <summary>When the front end sent the reply (<see cref="Adapter.MarkReplySent"/>); 0 when not marked.</summary>
    public long ReplySentTimestamp { get; internal set; }

    /// <summary>
    /// Stamps the moment the miniport's backend call returned, so a trace can tell time spent in
    /// the backend from time spent in the port. A miniport calls it once the block device's task
    /// has finished, before it completes the request; outside StartIo it does nothing.
    /// </summary>
    public void MarkBackendDone()
    {
        if (State == (int)SrbState.Outstanding && Unit is { } lu) BackendDoneTimestamp = lu.Adapter.Time.GetTimestamp();
    }

    /// <summary>True when the port, not the miniport, finished the request (a reset, removal or link-down timeout).</summary>
    public bool IsCompletedByPort => CompletedByPort;

    /// <summary>True when the request was outstanding while the port reset its LU after a timeout (event 129), so its failure is the port's doing, not the miniport's.</summary>
    public bool IsResetByPort => ResetByPort;

    /// <summary>How many times the port put this request back in its queue after a BUSY or QUEUE FULL answer.</summary>
    public int BusyRetryCount => BusyRetries;

    /// <summary>How many times the class layer has retried this request.</summary>
    public int RetryCount => ClassRetries;

    // ---------------------------------------------------------------- lifecycle

    /// <summary>Returns the SRB to its pool. Call once, after completion; the SRB must not be used afterwards.</summary>
    public void Release()
    {
        if (State is (int)SrbState.Queued or (int)SrbState.Outstanding)
            throw new InvalidOperationException("An SRB cannot be released while the port or miniport holds it.");
        // A request the front end marked received but never answered (the connection closed, the
        // task was aborted) still goes into the trace, with no reply time.
        if (TraceAdapter is { } traced) traced.FlushTrace(this);
        DropReference();
    }

    internal void DropReference()
    {
        if (Interlocked.Decrement(ref RefCount) == 0) ResetForReuse(returnToPool: true);
    }

    internal void PrepareExtension(int size)
    {
        if (_extension.Length < size) _extension = new byte[size];
        _extensionLength = size;
        _extension.AsSpan(0, size).Clear();
    }

    internal void ResetForReuse(bool returnToPool)
    {
        Function = SrbFunction.ExecuteScsi;
        Address = default;
        QueueTag = 0;
        QueueAction = QueueAction.Simple;
        CdbLength = 0;
        _cdb.AsSpan().Clear();
        Direction = DataDirection.None;
        Data.Reset();
        DataTransferLength = 0;
        TimeOutValue = 0;
        Nexus = InitiatorNexus.Local;
        OriginalRequest = null;
        RequestId = 0;
        AbortTarget = null;
        CompletionHandler = null;
        Status = SrbStatus.Pending;
        StatusFlags = SrbStatusFlags.None;
        ScsiStatus = ScsiStatus.Good;
        SenseInfoBufferLength = MaxSenseLength;
        SenseDataLength = 0;
        _extensionLength = 0;
        MiniportContext = null;
        ReceivedTimestamp = 0;
        SubmitTimestamp = 0;
        StartTimestamp = 0;
        BackendDoneTimestamp = 0;
        CompletedTimestamp = 0;
        ReplySentTimestamp = 0;
        RequeuedTimestamp = 0;
        TraceAdapter = null;
        State = (int)SrbState.Free;
        QueueNext = QueuePrev = null;
        Unit = null;
        BusyRetries = 0;
        ClassRetries = 0;
        CompletedByPort = false;
        ResetByPort = false;
        ResetByRequest = false;
        MiniportOwned = 0;
        Internal = false;
        DueTimestamp = 0;
        ClassHandler = null;
        ClassAdapter = null;
        OriginalTransferLength = 0;
        _completion.Reset();
        if (returnToPool && _pool is not null) { RefCount = 0; _pool.Return(this); }
        else RefCount = 1;
    }

    /// <summary>Clears the result fields so the same request can be submitted again (a class-layer retry).</summary>
    internal void ClearResult(int transferLength)
    {
        Status = SrbStatus.Pending;
        StatusFlags = SrbStatusFlags.None;
        ScsiStatus = ScsiStatus.Good;
        SenseDataLength = 0;
        DataTransferLength = transferLength;
        CompletedByPort = false;
        BusyRetries = 0;
    }

    internal ValueTask AsValueTask()
    {
        // An SRB that was awaited before and is submitted again gets a fresh task.
        if (_completion.GetStatus(_completion.Version) != ValueTaskSourceStatus.Pending) _completion.Reset();
        return new(this, _completion.Version);
    }

    internal void SignalCompleted()
    {
        var handler = CompletionHandler;
        if (handler is not null) handler.OnSrbCompleted(this);
        else _completion.SetResult(true);
    }

    void IValueTaskSource.GetResult(short token) => _completion.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _completion.GetStatus(token);
    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _completion.OnCompleted(continuation, state, token, flags);

    /// <summary>Function, address, opcode and status, for logs.</summary>
    public override string ToString() =>
        Function == SrbFunction.ExecuteScsi
            ? $"SRB {Address} op 0x{OperationCode:X2} tag {QueueTag} {Status}/{ScsiStatus}"
            : $"SRB {Address} {Function} {Status}";
}

internal enum SrbState
{
    Free = 0,
    Building = 1,
    Queued = 2,
    Outstanding = 3,
    Completed = 4,
    InBuildIo = 5,
}
