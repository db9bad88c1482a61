using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using StorSharp.Class;
using StorSharp.Port;
using StorSharp.Nbd.Server;
using StorSharp.Transport;

namespace StorSharp.Nbd;

/// <summary>
/// A fixed-newstyle NBD server (NetworkBlockDevice/nbd doc/proto.md) whose exports are LUs of
/// StorSharp adapters. Every request becomes SRBs submitted through the port, so the LU's queue,
/// timeouts, resets and fault injection apply.
/// </summary>
/// <remarks>
/// <para>Three ways to serve: <see cref="StartAsync"/> listens on <see cref="NbdServerOptions.Endpoint"/>;
/// <see cref="AdoptListenerAsync"/> accepts on a socket someone else bound (systemd socket
/// activation, <c>LISTEN_FDS</c>); <see cref="ServeConnectionAsync(Stream, CancellationToken)"/>
/// serves one already-connected stream (inetd style, stdin/stdout).</para>
/// <para>Exports are opened (READ CAPACITY and friends) on first use; <see cref="StartAsync"/> opens
/// them up front so a bad export fails the start.</para>
/// </remarks>
/// <example>
/// <code>
/// await using var server = new NbdServer(new NbdServerOptions
/// {
///     Endpoint = new IPEndPoint(IPAddress.Loopback, 0),
///     Exports = [new NbdExport("disk0", adapter, new ScsiAddress(0, 0, 0))],
/// }, Console.WriteLine);
/// await server.StartAsync(ct);
/// // nbdinfo nbd://127.0.0.1:{server.LocalEndpoint.Port}/disk0
/// </code>
/// </example>
public sealed class NbdServer : IAsyncDisposable
{
    private readonly NbdServerOptions _options;
    private readonly Action<string>? _log;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<NbdConnection, Task> _connections = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly SemaphoreSlim _openLock = new(1, 1);
    private readonly ReceivePolling _polling;
    private NbdServerCore? _core;
    private IPEndPoint? _localEndpoint;
    private int _disposed;

    /// <summary>Creates a server; nothing is opened or bound until it starts or serves.</summary>
    /// <param name="options">Settings; copied, so later changes do not affect the server.</param>
    /// <param name="log">Receives one line per connection event (connect, export chosen, protocol error, close); null for silence.</param>
    public NbdServer(NbdServerOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = new NbdServerOptions
        {
            Endpoint = options.Endpoint,
            Exports = [.. options.Exports ?? []],
            DefaultExportName = options.DefaultExportName,
            MaxPayload = options.MaxPayload,
            MaxInFlightPerConnection = options.MaxInFlightPerConnection,
            MaxInFlightBytesPerConnection = options.MaxInFlightBytesPerConnection,
            MaxOptionLength = options.MaxOptionLength,
            SendBufferSize = options.SendBufferSize,
            ReceivePollWindow = options.ReceivePollWindow,
        };
        _options.Validate();
        _polling = new ReceivePolling(_options.ReceivePollWindow);
        _log = log;
    }

    /// <summary>The endpoint the server listens on, with the port actually bound.</summary>
    /// <exception cref="InvalidOperationException">The server is not listening on an IP endpoint.</exception>
    public IPEndPoint LocalEndpoint => _localEndpoint ?? throw new InvalidOperationException("The NBD server is not listening on an IP endpoint; call StartAsync first.");

    /// <summary>The receive polling its TCP connections share (<see cref="NbdServerOptions.ReceivePollWindow"/>), with its counters.</summary>
    public ReceivePolling ReceivePolling => _polling;

    /// <summary>How many connections are open now.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>
    /// Drops every connection in the transmission phase on the LU at <paramref name="address"/> of
    /// <paramref name="adapter"/>, as a network failure would (fault injection's connection drop): the
    /// clients see their TCP connections end and may reconnect. Returns how many were dropped.
    /// </summary>
    public int DropConnections(Adapter adapter, ScsiAddress address)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        int dropped = 0;
        foreach (var connection in _connections.Keys)
        {
            if (!connection.Serves(adapter, address)) continue;
            connection.Drop("connection dropped by fault injection");
            dropped++;
        }
        return dropped;
    }

    /// <summary>Opens the exports, binds <see cref="NbdServerOptions.Endpoint"/> and starts accepting connections.</summary>
    /// <param name="cancellationToken">Cancels the start; stopping the server is <see cref="DisposeAsync"/>.</param>
    /// <exception cref="Block.BlockDeviceException">An export's LU could not be opened.</exception>
    /// <exception cref="SocketException">The endpoint could not be bound.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await EnsureOpenAsync(cancellationToken).ConfigureAwait(false);
        var endpoint = _options.Endpoint;
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(endpoint);
            listener.Listen(128);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _localEndpoint = (IPEndPoint)listener.LocalEndPoint!;
        Log($"NBD server listening on {_localEndpoint} with {_options.Exports.Count} export(s).");
        StartAccepting(listener);
    }

    /// <summary>
    /// Accepts connections on a socket that is already bound and listening (systemd socket
    /// activation: <c>LISTEN_FDS</c>; TCP or Unix domain). Returns once accepting has started; the
    /// server owns and closes the socket.
    /// </summary>
    public async Task AdoptListenerAsync(Socket listeningSocket, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listeningSocket);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await EnsureOpenAsync(cancellationToken).ConfigureAwait(false);
        if (listeningSocket.LocalEndPoint is IPEndPoint ip) _localEndpoint ??= ip;
        Log($"NBD server accepting on adopted socket {listeningSocket.LocalEndPoint}.");
        StartAccepting(listeningSocket);
    }

    /// <summary>Serves one connected duplex stream to its end (inetd style); returns when the client disconnects.</summary>
    public Task ServeConnectionAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ServeConnectionAsync(stream, stream, cancellationToken);
    }

    /// <summary>Serves one connection made of an input and an output stream (stdin and stdout) to its end.</summary>
    public async Task ServeConnectionAsync(Stream input, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var core = await EnsureOpenAsync(cancellationToken).ConfigureAwait(false);
        var reader = PipeReader.Create(input, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
        var writer = PipeWriter.Create(output, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
        await RunConnectionAsync(new NbdConnection(core, reader, writer, input, new StreamReplySink(output), null, "stream"), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Serves one connected socket to its end; the server closes it.</summary>
    public async Task ServeConnectionAsync(Socket socket, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var core = await EnsureOpenAsync(cancellationToken).ConfigureAwait(false);
        await RunConnectionAsync(CreateConnection(core, socket), cancellationToken).ConfigureAwait(false);
    }

    // ------------------------------------------------------------------ hot plug

    /// <summary>
    /// Serves another export from now on (a LUN added at run time): it is opened (READ CAPACITY)
    /// now, <c>NBD_OPT_LIST</c> lists it, and new connections can choose it.
    /// </summary>
    /// <exception cref="ArgumentException">An export of that name exists.</exception>
    /// <exception cref="Block.BlockDeviceException">The LU could not be opened.</exception>
    public Task AddExportAsync(NbdExport export, CancellationToken cancellationToken = default) => PublishAsync(export, replace: false, cancellationToken);

    /// <summary>
    /// Opens an export again (after its LU was resized): connections made from now on see the new
    /// size; connections already open keep the size they negotiated, as NBD has no way to tell them.
    /// </summary>
    /// <exception cref="ArgumentException">No export has that name.</exception>
    /// <exception cref="Block.BlockDeviceException">The LU could not be opened.</exception>
    public Task ReopenExportAsync(NbdExport export, CancellationToken cancellationToken = default) => PublishAsync(export, replace: true, cancellationToken);

    /// <summary>
    /// Stops offering an export (its LUN is being removed): <c>NBD_OPT_LIST</c> leaves it out and new
    /// connections asking for it get <c>NBD_REP_ERR_UNKNOWN</c>. Connections already serving it stay
    /// open; their requests fail with an error once the LU is gone.
    /// </summary>
    /// <returns>False when no export has that name.</returns>
    public async Task<bool> RemoveExportAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        var core = await EnsureOpenAsync(cancellationToken).ConfigureAwait(false);
        if (core.Remove(name) is null) return false;
        Log($"Export '{name}' removed.");
        return true;
    }

    private async Task PublishAsync(NbdExport export, bool replace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(export);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var core = await EnsureOpenAsync(cancellationToken).ConfigureAwait(false);
        if (!replace && core.FindExport(export.Name) is not null && export.Name.Length > 0)
            throw new ArgumentException($"An export named '{export.Name}' exists.", nameof(export));
        var device = await LunBlockDevice.OpenAsync(export.Adapter, export.Address, cancellationToken: cancellationToken).ConfigureAwait(false);
        var state = new NbdExportState(export, device, _options.MaxPayload);
        if (!core.TryAdd(state, replace))
            throw new ArgumentException(replace ? $"No export is named '{export.Name}'." : $"An export named '{export.Name}' exists.", nameof(export));
        Log($"Export '{export.Name}' {(replace ? "reopened" : "added")}: {device} ({state.BaseFlags}).");
    }

    /// <summary>Stops listening, ends every connection after its in-flight requests finish, and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        lock (_listeners)
        {
            foreach (var l in _listeners) l.Dispose();
        }
        Task[] loops;
        lock (_listeners) loops = [.. _acceptLoops];
        await Task.WhenAll(loops).ConfigureAwait(false);
        await Task.WhenAll(_connections.Values).ConfigureAwait(false);
        if (_core is { } core)
            foreach (var e in core.Exports) await e.Device.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        Log("NBD server stopped.");
    }

    // ------------------------------------------------------------------ machinery

    private async Task<NbdServerCore> EnsureOpenAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _core) is { } ready) return ready;
        await _openLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_core is { } again) return again;
            var states = new List<NbdExportState>(_options.Exports.Count);
            foreach (var export in _options.Exports)
            {
                var device = await LunBlockDevice.OpenAsync(export.Adapter, export.Address, cancellationToken: cancellationToken).ConfigureAwait(false);
                var state = new NbdExportState(export, device, _options.MaxPayload);
                states.Add(state);
                Log($"Export '{export.Name}': {device} ({state.BaseFlags}).");
            }
            NbdExportState? defaultExport = _options.DefaultExportName is { } name
                ? states.First(s => s.Name == name)
                : states.FirstOrDefault();
            var core = new NbdServerCore(_options, states, defaultExport, _log);
            Volatile.Write(ref _core, core);
            return core;
        }
        finally { _openLock.Release(); }
    }

    private void StartAccepting(Socket listener)
    {
        lock (_listeners)
        {
            _listeners.Add(listener);
            _acceptLoops.Add(Task.Run(() => AcceptLoopAsync(listener)));
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        var core = _core!;
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception) when (token.IsCancellationRequested) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException ex)
            {
                Log($"Accept failed: {ex.Message}");
                continue;
            }
            _ = RunConnectionAsync(CreateConnection(core, client), CancellationToken.None);
        }
    }

    private NbdConnection CreateConnection(NbdServerCore core, Socket socket)
    {
        // Nagle plus delayed ACK stalls request/reply protocols (peer-benchmarks.md, lesson 1).
        if (socket.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
        {
            socket.NoDelay = true;
            if (_options.SendBufferSize > 0) socket.SendBufferSize = _options.SendBufferSize; // see NbdServerOptions.SendBufferSize
        }
        string peer = socket.RemoteEndPoint?.ToString() ?? "unknown";
        var stream = new PollingNetworkStream(socket, _polling, ownsSocket: true);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
        // Replies leave through the socket itself (gather writes); the pipes serve negotiation and requests.
        return new NbdConnection(core, reader, writer, stream, new SocketReplySink(socket), stream, string.IsNullOrEmpty(peer) ? "unix" : peer);
    }

    private async Task RunConnectionAsync(NbdConnection connection, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, cancellationToken);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _connections[connection] = done.Task;
        Log($"{connection.Peer}: connected.");
        try
        {
            await connection.RunAsync(linked.Token).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            Log($"{connection.Peer}: closed.");
            done.TrySetResult();
        }
    }

    private void Log(string message) => _log?.Invoke(message);
}
