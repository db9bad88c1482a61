using System.Buffers;
using StorSharp.Block;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Client;

/// <summary>
/// A block device whose blocks live on a remote NBD export (nbdkit, qemu-nbd, nbd-server, another
/// StorSharp): the network block backend. Requests are pipelined on one connection and split by
/// the server's maximum payload; a lost connection is re-established with backoff and the
/// requests that were on it are sent again; while there is no connection, requests wait up to
/// <see cref="NbdReconnectPolicy.RequestWait"/> and then fail with <see cref="BlockError.NotReady"/>.
/// </summary>
/// <remarks>
/// Sending a request again is safe because every NBD command is idempotent on the same data: a
/// READ has no effect, a WRITE or WRITE_ZEROES of the same bytes to the same offset leaves the
/// same result however often it is applied, TRIM and FLUSH likewise. The only difference a replay
/// can make is between two overlapping writes in flight at once, whose order NBD never promised.
/// </remarks>
public sealed class NbdBlockDevice : IBlockDevice
{
    /// <summary>Longest TRIM / WRITE_ZEROES / BLOCK_STATUS length sent at once (lengths are u32).</summary>
    private const long MaxCommandBytes = 1L << 30;

    private readonly NbdClientOptions _options;
    private readonly Action<string>? _log;
    private readonly List<NbdClientRequest> _waiting = [];
    private readonly List<NbdClientRequest> _scratch = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _timer;
    private NbdClientConnection? _connection;
    private NbdExportInfo _info;
    private BlockGeometry _geometry;
    private BlockDeviceCapabilities _capabilities;
    private int _maxPayload;
    private ulong _nextCookie;
    private Task? _reconnect;
    private bool _reconnecting;   // a reconnect cycle runs (cleared under the lock when it adopts a connection or gives up)
    private bool _disposed;

    private NbdBlockDevice(NbdClientOptions options, Action<string>? log, NbdExportInfo info, int blockSize)
    {
        _options = options;
        _log = log;
        _info = info;
        BlockSize = blockSize;
        Describe(info);
        _timer = Task.Run(TimerLoopAsync);
    }

    /// <summary>The lock that guards the device's and its connections' state.</summary>
    internal object Gate => _waiting;

    /// <summary>The logical block size (fixed for the device's lifetime).</summary>
    private int BlockSize { get; }

    /// <inheritdoc />
    public BlockGeometry Geometry { get { lock (Gate) return _geometry; } }

    /// <inheritdoc />
    public BlockDeviceCapabilities Capabilities { get { lock (Gate) return _capabilities; } }

    /// <summary>The export as the current (or last) connection saw it.</summary>
    public NbdExportInfo Export { get { lock (Gate) return _info; } }

    /// <summary>Where the export is.</summary>
    public NbdServerAddress Address => _options.Address;

    /// <summary>A connection is up.</summary>
    public bool IsConnected { get { lock (Gate) return _connection is { Dead: false }; } }

    /// <summary>Connections made after the first (successful reconnects).</summary>
    public int Reconnects { get; private set; }

    /// <summary>
    /// Raised (on a thread-pool thread) when a new connection finds the export changed: another
    /// size (the host turns it into CAPACITY DATA HAS CHANGED) or other flags. <see cref="Geometry"/>
    /// already has the new size when it is raised.
    /// </summary>
    public event EventHandler<NbdExportChangedEventArgs>? ExportChanged;

    /// <summary>Connects to the export and negotiates; throws <see cref="BlockDeviceException"/> (<see cref="BlockError.NotReady"/>) saying why it could not.</summary>
    /// <param name="options">Where and how.</param>
    /// <param name="log">Receives one line per connection event (connected, lost, reconnected, gave up).</param>
    /// <param name="cancellationToken">Cancels the first connection attempt.</param>
    public static async Task<NbdBlockDevice> ConnectAsync(NbdClientOptions options, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        NbdClientConnection connection;
        try
        {
            connection = await NbdClientConnection.OpenAsync(options, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new BlockDeviceException(BlockError.NotReady, $"Cannot connect to the NBD export {options.Address}: {e.Message}", e);
        }
        int blockSize;
        try
        {
            blockSize = ChooseBlockSize(options, connection.Info);
        }
        catch (BlockDeviceException e)
        {
            connection.Abort(e);
            throw;
        }
        var device = new NbdBlockDevice(options, log, connection.Info, blockSize);
        device.Adopt(connection, first: true);
        return device;
    }

    private static int ChooseBlockSize(NbdClientOptions options, NbdExportInfo info)
    {
        int blockSize = options.BlockSize != 0 ? options.BlockSize : info.MinimumBlockSize <= 512 ? 512 : 4096;
        if (info.MinimumBlockSize > blockSize)
            throw new BlockDeviceException(BlockError.NotReady,
                $"The NBD export {options.Address} needs requests aligned to {info.MinimumBlockSize} bytes, more than the block size {blockSize}.");
        if (info.MaximumPayload < blockSize)
            throw new BlockDeviceException(BlockError.NotReady,
                $"The NBD export {options.Address} takes at most {info.MaximumPayload} bytes per request, less than one block of {blockSize}.");
        if (info.SizeBytes < (ulong)blockSize)
            throw new BlockDeviceException(BlockError.NotReady,
                $"The NBD export {options.Address} has {info.SizeBytes} bytes, less than one block of {blockSize}.");
        return blockSize;
    }

    /// <summary>Sets geometry, capabilities and the payload limit from what the server said. Under the lock.</summary>
    private void Describe(NbdExportInfo info)
    {
        int blockSize = BlockSize;
        byte exponent = 0;
        uint preferred = info.PreferredBlockSize;
        while (exponent < 15 && (ulong)blockSize << (exponent + 1) <= preferred && (preferred & (preferred - 1)) == 0) exponent++;
        _geometry = new BlockGeometry(blockSize, (long)(info.SizeBytes / (ulong)blockSize), exponent);
        var caps = BlockDeviceCapabilities.None;
        if (info.Has(NbdTransmissionFlags.ReadOnly)) caps |= BlockDeviceCapabilities.ReadOnly;
        if (info.Has(NbdTransmissionFlags.SendFlush)) caps |= BlockDeviceCapabilities.Flush;
        if (info.Has(NbdTransmissionFlags.SendFua)) caps |= BlockDeviceCapabilities.ForceUnitAccess;
        if (info.Has(NbdTransmissionFlags.SendWriteZeroes))
            caps |= BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.ThinProvisioned;
        else if (info.Has(NbdTransmissionFlags.SendTrim))
            caps |= BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.ThinProvisioned;
        if (info.AllocationContextId is not null) caps |= BlockDeviceCapabilities.Extents;
        if (info.Has(NbdTransmissionFlags.CanMultiConn)) caps |= BlockDeviceCapabilities.MultiConnection;
        if (!info.Has(NbdTransmissionFlags.Rotational)) caps |= BlockDeviceCapabilities.NonRotational;
        _capabilities = caps;
        long max = Math.Min(_options.MaxPayload, info.MaximumPayload);
        _maxPayload = (int)(max / blockSize * blockSize);
    }

    // ------------------------------------------------------------------ IBlockDevice

    /// <inheritdoc />
    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (CheckTransfer(NbdRangeCheck.Read, lba, buffer.Length, write: false) is { } error) return ValueTask.FromException(error);
        if (buffer.Length == 0) return default;
        int max;
        lock (Gate) max = _maxPayload;
        if (buffer.Length <= max)
        {
            var request = NbdClientRequest.Rent(NbdCommand.Read, NbdCommandFlags.None, (ulong)(lba * BlockSize), (uint)buffer.Length);
            request.ReadBuffer = buffer;
            return Submit(request, cancellationToken).AsValueTask();
        }
        return SplitAsync(NbdCommand.Read, NbdCommandFlags.None, lba, buffer.Length, buffer, default, max, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        if (CheckTransfer(NbdRangeCheck.Write, lba, buffer.Length, write: true) is { } error) return ValueTask.FromException(error);
        if (buffer.Length == 0) return default;
        bool fua = (flags & BlockWriteFlags.ForceUnitAccess) != 0;
        var info = Export;
        if (fua && !info.Has(NbdTransmissionFlags.SendFua))
            return WriteThenFlushAsync(lba, buffer, cancellationToken);
        var nbdFlags = fua ? NbdCommandFlags.Fua : NbdCommandFlags.None;
        int max;
        lock (Gate) max = _maxPayload;
        if (buffer.Length <= max)
        {
            var request = NbdClientRequest.Rent(NbdCommand.Write, nbdFlags, (ulong)(lba * BlockSize), (uint)buffer.Length);
            request.WriteData = buffer;
            return Submit(request, cancellationToken).AsValueTask();
        }
        return SplitAsync(NbdCommand.Write, nbdFlags, lba, buffer.Length, default, buffer, max, cancellationToken);
    }

    private async ValueTask WriteThenFlushAsync(long lba, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await WriteAsync(lba, buffer, BlockWriteFlags.None, cancellationToken);
        await FlushAsync(cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        if (!Export.Has(NbdTransmissionFlags.SendFlush)) return default;   // the server does not cache, or will not say
        var request = NbdClientRequest.Rent(NbdCommand.Flush, NbdCommandFlags.None, 0, 0);
        return Submit(request, cancellationToken).AsValueTask();
    }

    /// <inheritdoc />
    /// <remarks>
    /// With NBD_FLAG_SEND_WRITE_ZEROES the unmap is a WRITE_ZEROES without NO_HOLE: the server may
    /// deallocate, and the blocks are guaranteed to read as zeros (so <see cref="BlockDeviceCapabilities.UnmapReadsZeroes"/>
    /// holds). Otherwise it is a TRIM, after which NBD promises nothing about the contents.
    /// </remarks>
    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        if (CheckRange(NbdRangeCheck.Unmap, lba, blockCount, write: true) is { } error) return ValueTask.FromException(error);
        var info = Export;
        if (blockCount == 0) return default;
        if (info.Has(NbdTransmissionFlags.SendWriteZeroes))
            return RangeCommandAsync(NbdCommand.WriteZeroes, NbdCommandFlags.None, lba, blockCount, cancellationToken);
        if (info.Has(NbdTransmissionFlags.SendTrim))
            return RangeCommandAsync(NbdCommand.Trim, NbdCommandFlags.None, lba, blockCount, cancellationToken);
        return default;   // unmap is advisory
    }

    /// <inheritdoc />
    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default)
    {
        if (CheckRange(NbdRangeCheck.WriteZeroes, lba, blockCount, write: true) is { } error) return ValueTask.FromException(error);
        var info = Export;
        if (!info.Has(NbdTransmissionFlags.SendWriteZeroes))
            return ValueTask.FromException(new BlockDeviceException(BlockError.NotSupported,
                $"{NbdRangeCheck.WriteZeroes} at LBA {lba}: the NBD export {Address} does not take WRITE_ZEROES."));
        if ((flags & WriteZeroesFlags.FastOnly) != 0 && !info.Has(NbdTransmissionFlags.SendFastZero))
            return ValueTask.FromException(new BlockDeviceException(BlockError.NotSupported,
                $"{NbdRangeCheck.WriteZeroes} at LBA {lba}: the NBD export {Address} cannot promise fast zeroing (no NBD_FLAG_SEND_FAST_ZERO)."));
        if (blockCount == 0) return default;
        var nbdFlags = NbdCommandFlags.None;
        if ((flags & WriteZeroesFlags.MayUnmap) == 0) nbdFlags |= NbdCommandFlags.NoHole;
        if ((flags & WriteZeroesFlags.FastOnly) != 0) nbdFlags |= NbdCommandFlags.FastZero;
        bool fua = (flags & WriteZeroesFlags.ForceUnitAccess) != 0;
        if (fua && info.Has(NbdTransmissionFlags.SendFua)) nbdFlags |= NbdCommandFlags.Fua;
        else if (fua) return ZeroThenFlushAsync(lba, blockCount, nbdFlags, cancellationToken);
        return RangeCommandAsync(NbdCommand.WriteZeroes, nbdFlags, lba, blockCount, cancellationToken);
    }

    private async ValueTask ZeroThenFlushAsync(long lba, long blockCount, NbdCommandFlags flags, CancellationToken cancellationToken)
    {
        await RangeCommandAsync(NbdCommand.WriteZeroes, flags, lba, blockCount, cancellationToken);
        await FlushAsync(cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        if (CheckRange(NbdRangeCheck.GetExtents, lba, blockCount, write: false) is { } error) return ValueTask.FromException<int>(error);
        if (blockCount == 0 || destination.IsEmpty) return new ValueTask<int>(0);
        if (Export.AllocationContextId is null)
        {
            destination.Span[0] = new BlockExtent(lba, blockCount, BlockExtentFlags.Data);
            return new ValueTask<int>(1);
        }
        return ExtentsAsync(lba, blockCount, destination, cancellationToken);
    }

    /// <summary>
    /// BLOCK_STATUS until the range is described or <paramref name="destination"/> is full: a server
    /// may describe less than it was asked (nbdkit and qemu-nbd stop after a number of extents).
    /// </summary>
    private async ValueTask<int> ExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken)
    {
        int total = 0;
        long next = lba, end = lba + blockCount;
        while (next < end && total < destination.Length)
        {
            long bytes = Math.Min((end - next) * BlockSize, MaxCommandBytes);
            var request = NbdClientRequest.Rent(NbdCommand.BlockStatus, NbdCommandFlags.None, (ulong)(next * BlockSize), (uint)bytes);
            var into = destination[total..];
            request.Extents = into;
            request.BlockSize = BlockSize;
            int count = await Submit(request, cancellationToken).AsExtentCountTask();
            if (count == 0) break;
            var span = destination.Span;
            if (total > 0 && span[total - 1].Flags == span[total].Flags && span[total - 1].Lba + span[total - 1].BlockCount == span[total].Lba)
            {
                span[total - 1] = span[total - 1] with { BlockCount = span[total - 1].BlockCount + span[total].BlockCount };
                span[(total + 1)..(total + count)].CopyTo(span[total..]);
                count--;
            }
            total += count;
            long reached = span[total - 1].Lba + span[total - 1].BlockCount;
            if (reached <= next) break;   // no progress: never loop on a stuck server
            next = reached;
        }
        return total;
    }

    private async ValueTask RangeCommandAsync(NbdCommand command, NbdCommandFlags flags, long lba, long blockCount, CancellationToken cancellationToken)
    {
        long chunkBlocks = MaxCommandBytes / BlockSize;
        var pending = new List<ValueTask>();
        for (long done = 0; done < blockCount; done += chunkBlocks)
        {
            long blocks = Math.Min(chunkBlocks, blockCount - done);
            var request = NbdClientRequest.Rent(command, flags, (ulong)((lba + done) * BlockSize), (uint)(blocks * BlockSize));
            pending.Add(Submit(request, cancellationToken).AsValueTask());
        }
        await AwaitAllAsync(pending);
    }

    private async ValueTask SplitAsync(NbdCommand command, NbdCommandFlags flags, long lba, int length, Memory<byte> read, ReadOnlyMemory<byte> write, int max, CancellationToken cancellationToken)
    {
        var pending = new List<ValueTask>();
        for (int at = 0; at < length; at += max)
        {
            int n = Math.Min(max, length - at);
            var request = NbdClientRequest.Rent(command, flags, (ulong)(lba * BlockSize + at), (uint)n);
            if (command == NbdCommand.Read) request.ReadBuffer = read.Slice(at, n);
            else request.WriteData = write.Slice(at, n);
            pending.Add(Submit(request, cancellationToken).AsValueTask());
        }
        await AwaitAllAsync(pending);
    }

    private static async ValueTask AwaitAllAsync(List<ValueTask> pending)
    {
        Exception? first = null;
        foreach (var task in pending)
        {
            try { await task; }
            catch (Exception e) { first ??= e; }
        }
        if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
    }

    private BlockDeviceException? CheckTransfer(string operation, long lba, int length, bool write)
    {
        lock (Gate)
            return NbdRangeCheck.Transfer(operation, lba, length, _geometry, write && (_capabilities & BlockDeviceCapabilities.ReadOnly) != 0);
    }

    private BlockDeviceException? CheckRange(string operation, long lba, long blockCount, bool write)
    {
        lock (Gate)
            return NbdRangeCheck.Blocks(operation, lba, blockCount, _geometry, write && (_capabilities & BlockDeviceCapabilities.ReadOnly) != 0);
    }

    // ------------------------------------------------------------------ requests and connections

    private NbdClientRequest Submit(NbdClientRequest request, CancellationToken cancellationToken)
    {
        lock (Gate)
        {
            if (_disposed)
            {
                request.TryComplete(new BlockDeviceException(BlockError.NotReady, $"The NBD device for {Address} is closed."));
                return request;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                request.TryComplete(new OperationCanceledException(cancellationToken));
                return request;
            }
            Place(request);
            if (cancellationToken.CanBeCanceled && request.Pending)
                request.Cancellation = cancellationToken.UnsafeRegister(static (state, token) =>
                {
                    var r = (NbdClientRequest)state!;
                    r.Owner?.Cancel(r, token);
                }, request);
        }
        return request;
    }

    /// <summary>Puts a request on the connection, or in the waiting list while there is none. Under the lock.</summary>
    private void Place(NbdClientRequest request)
    {
        request.Owner = this;
        if (_connection is { Dead: false } connection)
        {
            connection.Enqueue(request, ++_nextCookie, Environment.TickCount64 + (long)_options.RequestTimeout.TotalMilliseconds);
            return;
        }
        request.Connection = null;
        request.Cookie = 0;
        request.Deadline = Environment.TickCount64 + (long)_options.Reconnect.RequestWait.TotalMilliseconds;
        _waiting.Add(request);
        StartReconnect();
    }

    internal void Cancel(NbdClientRequest request, CancellationToken token)
    {
        lock (Gate)
        {
            if (!request.Pending) return;
            if (request.Connection is { } connection)
            {
                if (!connection.TryAbandon(request.Cookie)) return;   // its buffer is in use this moment: let it finish
            }
            else
                _waiting.Remove(request);
            request.TryComplete(new OperationCanceledException(token));
        }
    }

    /// <summary>Makes a freshly negotiated connection the device's, and sends it every waiting request.</summary>
    private void Adopt(NbdClientConnection connection, bool first)
    {
        NbdExportChangedEventArgs? changed = null;
        lock (Gate)
        {
            if (_disposed)
            {
                connection.Abort(new ObjectDisposedException(nameof(NbdBlockDevice)));
                return;
            }
            if (!first && (connection.Info.SizeBytes != _info.SizeBytes || connection.Info.Flags != _info.Flags))
                changed = new NbdExportChangedEventArgs(_info, connection.Info);
            _info = connection.Info;
            Describe(connection.Info);
            _connection = connection;
            _reconnecting = false;
            connection.Start(this);
            long deadline = Environment.TickCount64 + (long)_options.RequestTimeout.TotalMilliseconds;
            foreach (var request in _waiting)
                connection.Enqueue(request, ++_nextCookie, deadline);
            _waiting.Clear();
        }
        _log?.Invoke(first
            ? $"nbd: connected to {Address} ({connection.Info.SizeBytes} bytes, flags {connection.Info.Flags}, structured replies {(connection.Info.StructuredReplies ? "on" : "off")}, base:allocation {(connection.Info.AllocationContextId is null ? "off" : "on")})"
            : $"nbd: reconnected to {Address}");
        if (changed is not null)
        {
            _log?.Invoke($"nbd: export {Address} changed: size {changed.Previous.SizeBytes} -> {changed.Current.SizeBytes}, flags {changed.Previous.Flags} -> {changed.Current.Flags}");
            var handler = ExportChanged;
            if (handler is not null) ThreadPool.QueueUserWorkItem(_ => handler(this, changed));
        }
    }

    /// <summary>Called by a connection's reader once, when the connection has ended.</summary>
    internal void OnConnectionLost(NbdClientConnection connection, Exception reason, ulong? culprit)
    {
        bool disposed;
        lock (Gate)
        {
            disposed = _disposed;
            if (_connection == connection) _connection = null;
            _scratch.Clear();
            connection.DrainRequests(_scratch);
            foreach (var request in _scratch)
            {
                request.Connection = null;
                if (culprit == request.Cookie)
                    request.TryComplete(new BlockDeviceException(BlockError.MediumError,
                        $"NBD {request.Command} of {request.Length} bytes at offset {request.Offset}: {reason.Message} The connection was dropped.", reason));
                else if (disposed)
                    request.TryComplete(new BlockDeviceException(BlockError.NotReady, $"The NBD device for {Address} was closed.", reason));
                else if (!_options.Reconnect.Enabled || request.Attempts > _options.Reconnect.MaxReplays)
                    request.TryComplete(new BlockDeviceException(BlockError.NotReady,
                        $"NBD {request.Command} at offset {request.Offset}: the connection to {Address} was lost ({reason.Message}) after {request.Attempts} attempt(s).", reason));
                else
                {
                    request.ResetReply();
                    request.Deadline = Environment.TickCount64 + (long)_options.Reconnect.RequestWait.TotalMilliseconds;
                    _waiting.Add(request);
                }
            }
            _scratch.Clear();
            if (!disposed && _connection is null) StartReconnect();
        }
        if (!disposed) _log?.Invoke($"nbd: connection to {Address} lost: {reason.Message}");
    }

    /// <summary>Starts a reconnect cycle unless one runs. Under the lock.</summary>
    private void StartReconnect()
    {
        if (_disposed || _reconnecting) return;
        if (!_options.Reconnect.Enabled)
        {
            FailWaiting($"the connection to {Address} is lost and reconnecting is off");
            return;
        }
        _reconnecting = true;
        _reconnect = Task.Run(ReconnectLoopAsync);
    }

    private async Task ReconnectLoopAsync()
    {
        var policy = _options.Reconnect;
        long start = Environment.TickCount64;
        TimeSpan delay = policy.InitialDelay;
        int attempt = 0;
        string last = "";
        while (!_stopping.IsCancellationRequested)
        {
            attempt++;
            try
            {
                var connection = await NbdClientConnection.OpenAsync(_options, _stopping.Token);
                if (connection.Info.MinimumBlockSize > BlockSize || connection.Info.MaximumPayload < BlockSize)
                {
                    var misfit = new NbdProtocolException(
                        $"After reconnecting, the export's block sizes (minimum {connection.Info.MinimumBlockSize}, maximum {connection.Info.MaximumPayload}) no longer fit the block size {BlockSize}.");
                    connection.Abort(misfit);
                    throw misfit;
                }
                Reconnects++;
                Adopt(connection, first: false);
                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                lock (Gate) _reconnecting = false;
                return;
            }
            catch (Exception e)
            {
                last = e.Message;
            }
            long elapsed = Environment.TickCount64 - start;
            if ((policy.MaxAttempts > 0 && attempt >= policy.MaxAttempts) || elapsed + delay.TotalMilliseconds > policy.MaxTime.TotalMilliseconds)
                break;
            _log?.Invoke($"nbd: reconnect attempt {attempt} to {Address} failed: {last}; next in {delay.TotalMilliseconds:0} ms");
            try { await Task.Delay(delay, _stopping.Token); }
            catch (OperationCanceledException)
            {
                lock (Gate) _reconnecting = false;
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, policy.MaxDelay.Ticks));
            if (delay == TimeSpan.Zero) delay = TimeSpan.FromMilliseconds(1);
        }
        _log?.Invoke($"nbd: gave up reconnecting to {Address} after {attempt} attempt(s): {last}");
        lock (Gate)
        {
            _reconnecting = false;
            FailWaiting($"reconnecting to {Address} failed after {attempt} attempt(s): {last}");
        }
    }

    /// <summary>Fails every waiting request with NotReady. Under the lock.</summary>
    private void FailWaiting(string why)
    {
        foreach (var request in _waiting)
            request.TryComplete(new BlockDeviceException(BlockError.NotReady, $"NBD {request.Command} at offset {request.Offset}: {why}."));
        _waiting.Clear();
    }

    private async Task TimerLoopAsync()
    {
        long tick = Math.Clamp((long)Math.Min(_options.RequestTimeout.TotalMilliseconds, _options.Reconnect.RequestWait.TotalMilliseconds) / 4, 5, 250);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(tick));
        var overdue = new List<NbdClientRequest>();
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                NbdClientConnection? hung = null;
                lock (Gate)
                {
                    long now = Environment.TickCount64;
                    for (int i = _waiting.Count - 1; i >= 0; i--)
                    {
                        var request = _waiting[i];
                        if (request.Deadline > now) continue;
                        _waiting.RemoveAt(i);
                        request.TryComplete(new BlockDeviceException(BlockError.NotReady,
                            $"NBD {request.Command} at offset {request.Offset}: no connection to {Address} within {_options.Reconnect.RequestWait.TotalSeconds:0.###} s."));
                    }
                    if (_connection is { Dead: false } connection)
                    {
                        overdue.Clear();
                        if (connection.CollectOverdue(now, overdue)) hung = connection;
                        foreach (var request in overdue)
                            request.TryComplete(new BlockDeviceException(BlockError.NotReady,
                                $"NBD {request.Command} of {request.Length} bytes at offset {request.Offset}: no reply from {Address} within {_options.RequestTimeout.TotalSeconds:0.###} s."));
                        overdue.Clear();
                    }
                }
                hung?.Abort(new TimeoutException($"The NBD server {Address} sent nothing for {_options.RequestTimeout.TotalSeconds:0.###} s while requests were waiting."));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Lets in-flight requests finish (up to a few seconds), sends NBD_CMD_DISC, and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        NbdClientConnection? connection;
        lock (Gate)
        {
            if (_disposed) return;
            _disposed = true;
            connection = _connection;
            FailWaiting($"the NBD device for {Address} was closed");
        }
        _stopping.Cancel();
        if (connection is not null) await connection.CloseAsync(TimeSpan.FromSeconds(5));
        try { await _timer; } catch (Exception) { }
        if (_reconnect is { } reconnect) try { await reconnect; } catch (Exception) { }
        _stopping.Dispose();
    }
}
