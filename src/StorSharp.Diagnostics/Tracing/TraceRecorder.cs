using System.Buffers.Binary;
using System.Text;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Tracing;

/// <summary>
/// Records a compact, size-bounded binary trace of a port (<see cref="TraceFormat"/>): one record
/// per finished request with its stage times, one per BUSY answer, and every event-log entry
/// (timeouts 129, resets, retries 153, link down and up, ...). It plugs into
/// <see cref="StoragePort.TraceSink"/>, so requests are recorded without an EventListener.
/// </summary>
/// <remarks>
/// Memory is bounded: records are copied into one of two fixed buffers and written out
/// asynchronously; when both are full or the file reached its limit, records are dropped and the
/// running count of dropped records is written into the file, so a report says what is missing.
/// A request costs one short lock and a 52-byte copy, no allocation.
/// </remarks>
public sealed class TraceRecorder : IRequestTraceSink, IAsyncDisposable
{
    private readonly StoragePort _port;
    private readonly TraceRecorderOptions _options;
    private readonly FileStream _file;
    private readonly Lock _lock = new();
    private readonly long _startTimestamp;
    private readonly double _ticksTo100ns;
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _writer;
    private byte[] _active;
    private byte[]? _spare;
    private byte[]? _full;
    private int _activeLength;
    private int _fullLength;
    private long _committed; // bytes written or queued for writing
    private long _droppedRequests, _droppedEvents;
    private long _droppedWritten = -1;
    private long _recordedRequests;
    private int _disposed;

    /// <summary>Starts recording <paramref name="port"/> into <paramref name="path"/> (created or truncated).</summary>
    /// <exception cref="IOException">The file cannot be created.</exception>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public TraceRecorder(StoragePort port, string path, TraceRecorderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(port);
        _options = options ?? new TraceRecorderOptions();
        _options.Validate();
        _port = port;
        Path = path;
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1, FileOptions.Asynchronous);
        _active = new byte[_options.BufferBytes];
        _spare = new byte[_options.BufferBytes];
        _startTimestamp = port.Time.GetTimestamp();
        _ticksTo100ns = 10_000_000.0 / port.Time.TimestampFrequency;
        StartUtc = port.Time.GetUtcNow();
        Span<byte> header = stackalloc byte[TraceFormat.HeaderSize];
        header.Clear();
        TraceFormat.Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], TraceFormat.Version);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], StartUtc.UtcTicks);
        header.CopyTo(_active);
        _activeLength = TraceFormat.HeaderSize;
        _committed = TraceFormat.HeaderSize;
        foreach (var adapter in port.Adapters)
            foreach (var lu in adapter.LogicalUnits)
                NameUnit(adapter.Number, lu.Address, $"{adapter.Name} {lu.Address} {lu.Identity?.ProductId}".Trim());
        port.Events.Logged += OnLogged;
        _writer = Task.Run(WriteLoopAsync);
        port.TraceSink = this;
    }

    /// <summary>The file being written.</summary>
    public string Path { get; }

    /// <summary>When the trace started.</summary>
    public DateTimeOffset StartUtc { get; }

    /// <summary>The last error writing the file (a full disk), or null; records in the failed write are lost.</summary>
    public string? WriteError { get; private set; }

    /// <summary>Requests recorded so far.</summary>
    public long RecordedRequests => Interlocked.Read(ref _recordedRequests);

    /// <summary>Requests dropped so far (buffers full or the size limit reached).</summary>
    public long DroppedRequests => Interlocked.Read(ref _droppedRequests);

    /// <summary>
    /// Names an LU in the trace (the report shows it): for example its target IQN and LUN number
    /// or its NBD export. Units the port knows when recording starts are named after their adapter,
    /// address and product id; a later call replaces the name.
    /// </summary>
    public void NameUnit(int adapter, ScsiAddress address, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name.Length > 200 ? name[..200] : name);
        Span<byte> record = stackalloc byte[8 + 2 + bytes.Length];
        record[0] = TraceFormat.KindLogicalUnit;
        record[1] = (byte)adapter;
        record[2] = address.PathId;
        record[3] = address.TargetId;
        record[4] = address.Lun;
        record[5] = record[6] = record[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(record[8..], (ushort)bytes.Length);
        bytes.CopyTo(record[10..]);
        Append(record, isEvent: true);
    }

    private long Time100ns(long timestamp) => (long)((timestamp - _startTimestamp) * _ticksTo100ns);

    /// <inheritdoc/>
    public void OnRequestFinished(Adapter adapter, Srb srb)
    {
        long completed = srb.CompletedTimestamp;
        long submitted = srb.SubmitTimestamp != 0 ? srb.SubmitTimestamp : completed;
        long received = srb.ReceivedTimestamp != 0 && srb.ReceivedTimestamp <= submitted ? srb.ReceivedTimestamp : submitted;
        long started = srb.StartTimestamp >= submitted && srb.StartTimestamp <= completed && srb.StartTimestamp != 0 ? srb.StartTimestamp : completed;
        bool backendStamped = srb.BackendDoneTimestamp >= started && srb.BackendDoneTimestamp <= completed && srb.BackendDoneTimestamp != 0 && started != completed;
        long backend = backendStamped ? srb.BackendDoneTimestamp : completed;
        bool replied = srb.ReplySentTimestamp >= completed;
        long reply = replied ? srb.ReplySentTimestamp : completed;
        // Convert each stamp once and take differences, so the stages add up to the total exactly.
        long r = Time100ns(received), q = Time100ns(submitted), s = Time100ns(started), b = Time100ns(backend), c = Time100ns(completed), a = Time100ns(reply);
        byte flags = 0;
        if (srb.IsCompletedByPort) flags |= TraceFormat.FlagCompletedByPort;
        if (srb.IsResetByPort) flags |= TraceFormat.FlagResetByPort;
        if (srb.ReceivedTimestamp != 0) flags |= replied ? TraceFormat.FlagFrontEndStamped : (byte)(TraceFormat.FlagFrontEndStamped | TraceFormat.FlagNoReply);
        if (backendStamped) flags |= TraceFormat.FlagBackendStamped;

        Span<byte> rec = stackalloc byte[TraceFormat.RequestSize];
        rec[0] = TraceFormat.KindRequest;
        rec[1] = (byte)adapter.Number;
        rec[2] = srb.Address.PathId;
        rec[3] = srb.Address.TargetId;
        rec[4] = srb.Address.Lun;
        rec[5] = srb.Function == SrbFunction.ExecuteScsi ? srb.OperationCode : (byte)0;
        rec[6] = srb.RawSrbStatus;
        rec[7] = (byte)srb.ScsiStatus;
        rec[8] = (byte)srb.Function;
        rec[9] = flags;
        BinaryPrimitives.WriteUInt16LittleEndian(rec[10..], (ushort)Math.Min(srb.BusyRetryCount, ushort.MaxValue));
        rec[12] = (byte)Math.Min(srb.RetryCount, 255);
        rec[13] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(rec[14..], (uint)Math.Max(0, srb.DataTransferLength));
        BinaryPrimitives.WriteUInt32LittleEndian(rec[18..], (uint)srb.RequestId);
        BinaryPrimitives.WriteInt64LittleEndian(rec[22..], r);
        BinaryPrimitives.WriteUInt32LittleEndian(rec[30..], Stage(q - r));
        BinaryPrimitives.WriteUInt32LittleEndian(rec[34..], Stage(s - q));
        BinaryPrimitives.WriteUInt32LittleEndian(rec[38..], Stage(b - s));
        BinaryPrimitives.WriteUInt32LittleEndian(rec[42..], Stage(c - b));
        BinaryPrimitives.WriteUInt32LittleEndian(rec[46..], Stage(a - c));
        rec[50] = rec[51] = 0;
        if (Append(rec, isEvent: false)) Interlocked.Increment(ref _recordedRequests);
        else Interlocked.Increment(ref _droppedRequests);
    }

    private static uint Stage(long d) => d <= 0 ? 0u : d >= uint.MaxValue ? uint.MaxValue : (uint)d;

    /// <inheritdoc/>
    public void OnBusy(Adapter adapter, Srb srb, bool queueFull)
    {
        Span<byte> rec = stackalloc byte[TraceFormat.BusySize];
        rec[0] = TraceFormat.KindBusy;
        rec[1] = (byte)adapter.Number;
        rec[2] = srb.Address.PathId;
        rec[3] = srb.Address.TargetId;
        rec[4] = srb.Address.Lun;
        rec[5] = queueFull ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(rec[6..], (ushort)Math.Min(srb.BusyRetryCount, ushort.MaxValue));
        BinaryPrimitives.WriteInt64LittleEndian(rec[8..], Time100ns(_port.Time.GetTimestamp()));
        if (!Append(rec, isEvent: false)) Interlocked.Increment(ref _droppedEvents);
    }

    private void OnLogged(StorageEvent e)
    {
        var device = Encoding.UTF8.GetBytes(e.Device.Length > 100 ? e.Device[..100] : e.Device);
        var message = Encoding.UTF8.GetBytes(e.Message.Length > 1000 ? e.Message[..1000] : e.Message);
        var rec = new byte[16 + 2 + device.Length + 2 + message.Length];
        rec[0] = TraceFormat.KindEvent;
        rec[1] = (byte)e.Level;
        BinaryPrimitives.WriteInt32LittleEndian(rec.AsSpan(4), e.Id);
        BinaryPrimitives.WriteInt64LittleEndian(rec.AsSpan(8), Time100ns(_port.Time.GetTimestamp()));
        BinaryPrimitives.WriteUInt16LittleEndian(rec.AsSpan(16), (ushort)device.Length);
        device.CopyTo(rec, 18);
        BinaryPrimitives.WriteUInt16LittleEndian(rec.AsSpan(18 + device.Length), (ushort)message.Length);
        message.CopyTo(rec, 20 + device.Length);
        if (!Append(rec, isEvent: true)) Interlocked.Increment(ref _droppedEvents);
    }

    private bool Append(ReadOnlySpan<byte> record, bool isEvent)
    {
        bool signal = false;
        lock (_lock)
        {
            if (_disposed != 0) return false;
            long limit = isEvent ? _options.MaxBytes : _options.MaxBytes - _options.EventReserveBytes;
            if (_committed + record.Length > limit) return false;
            if (_activeLength + record.Length > _active.Length)
            {
                if (_spare is null || _full is not null) return false; // both buffers busy: drop, do not grow
                _full = _active;
                _fullLength = _activeLength;
                _active = _spare;
                _spare = null;
                _activeLength = 0;
                signal = true;
            }
            record.CopyTo(_active.AsSpan(_activeLength));
            _activeLength += record.Length;
            _committed += record.Length;
        }
        if (signal) _signal.Release();
        return true;
    }

    private async Task WriteLoopAsync()
    {
        var token = _stop.Token;
        while (true)
        {
            bool stopping = false;
            try { await _signal.WaitAsync(_options.FlushInterval, token).ConfigureAwait(false); }
            catch (OperationCanceledException) { stopping = true; }
            await FlushOnceAsync().ConfigureAwait(false);
            if (stopping) return;
        }
    }

    private async Task FlushOnceAsync()
    {
        byte[]? full;
        int fullLength;
        lock (_lock)
        {
            if (_full is null && _activeLength > 0 && _spare is not null)
            {
                // Nothing waiting: take what the active buffer has so the file stays current.
                _full = _active;
                _fullLength = _activeLength;
                _active = _spare;
                _spare = null;
                _activeLength = 0;
            }
            full = _full;
            fullLength = _fullLength;
        }
        if (full is not null)
        {
            try { await _file.WriteAsync(full.AsMemory(0, fullLength)).ConfigureAwait(false); }
            catch (IOException ex) { WriteError = ex.Message; }
            lock (_lock) { _spare = full; _full = null; _fullLength = 0; }
        }
        long droppedRequests = Interlocked.Read(ref _droppedRequests), droppedEvents = Interlocked.Read(ref _droppedEvents);
        if (droppedRequests + droppedEvents != _droppedWritten)
        {
            _droppedWritten = droppedRequests + droppedEvents;
            var note = new byte[TraceFormat.DroppedSize];
            note[0] = TraceFormat.KindDropped;
            BinaryPrimitives.WriteInt64LittleEndian(note.AsSpan(8), droppedRequests);
            BinaryPrimitives.WriteInt64LittleEndian(note.AsSpan(16), droppedEvents);
            BinaryPrimitives.WriteInt64LittleEndian(note.AsSpan(24), Time100ns(_port.Time.GetTimestamp()));
            // The note goes straight to the file (after the records it counts), outside the size limit.
            try { await _file.WriteAsync(note).ConfigureAwait(false); } catch (IOException) { }
        }
        try { await _file.FlushAsync().ConfigureAwait(false); } catch (IOException) { }
    }

    /// <summary>Stops recording: detaches from the port, writes what is buffered, and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_port.TraceSink == this) _port.TraceSink = null;
        _port.Events.Logged -= OnLogged;
        // Requests finishing right now may still append; give the buffers one last pass, then close.
        await Task.Yield();
        _stop.Cancel();
        try { await _writer.ConfigureAwait(false); } catch (OperationCanceledException) { }
        lock (_lock) _disposed = 1;
        await FlushOnceAsync().ConfigureAwait(false); // the active buffer, if the writer left one
        await FlushOnceAsync().ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
        _signal.Dispose();
        _stop.Dispose();
    }
}
