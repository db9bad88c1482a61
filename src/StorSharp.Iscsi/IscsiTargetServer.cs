using System.Net;
using System.Net.Sockets;
using StorSharp.Iscsi.Connection;
using StorSharp.Iscsi.Session;
using StorSharp.Port;

namespace StorSharp.Iscsi;

/// <summary>
/// An iSCSI target (RFC 7143) serving the LUNs of StorSharp adapters to real initiators: discovery
/// and normal sessions, CHAP, the operational keys of §13, SCSI commands as SRBs, R2T flow, task
/// management and logout. ErrorRecoveryLevel 0, one connection per session.
/// </summary>
/// <remarks>
/// Each connection has one receive loop over System.IO.Pipelines and one send pump; commands reach
/// the port in CmdSN order through <see cref="Adapter.Submit"/> and complete on any thread.
/// </remarks>
public sealed class IscsiTargetServer : IAsyncDisposable
{
    private readonly ServerCore _core;
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly List<Task> _connectionTasks = [];
    private readonly CancellationTokenSource _stop = new();
    private IReadOnlyList<IPEndPoint> _endpoints = [];
    private int _disposed;

    /// <summary>Creates a server; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">What to serve and the limits to offer; checked here.</param>
    /// <param name="log">Receives one line per noteworthy event (logins, rejects, closes); null for silence.</param>
    /// <exception cref="ArgumentException">An option is out of range (see <see cref="IscsiTargetOptions.Validate"/>).</exception>
    public IscsiTargetServer(IscsiTargetOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _core = new ServerCore(options, log);
    }

    /// <summary>The addresses actually bound, one per portal (a portal with port 0 shows the port the system chose).</summary>
    public IReadOnlyList<IPEndPoint> LocalEndpoints => _endpoints;

    /// <summary>How many sessions (discovery and normal) are logged in now.</summary>
    public int SessionCount => _core.Sessions.Count;

    /// <summary>
    /// Binds every portal, learns each LUN's block size (for exact residuals), and starts accepting
    /// connections. Returns once listening.
    /// </summary>
    /// <exception cref="SocketException">A portal could not be bound.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var endpoints = new List<IPEndPoint>();
        foreach (var portal in _core.Options.Portals)
        {
            var listener = new Socket(portal.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                listener.Bind(portal);
                listener.Listen(128);
            }
            catch
            {
                listener.Dispose();
                foreach (var l in _listeners) l.Dispose();
                _listeners.Clear();
                throw;
            }
            _listeners.Add(listener);
            endpoints.Add((IPEndPoint)listener.LocalEndPoint!);
        }
        _endpoints = endpoints;
        _core.BoundPortals = endpoints;
        foreach (var target in _core.Targets)
            foreach (var lun in target.Luns.Values)
                await ProbeBlockSizeAsync(lun, cancellationToken).ConfigureAwait(false);
        foreach (var listener in _listeners) _acceptLoops.Add(AcceptLoopAsync(listener));
        _core.Log($"iscsi: listening on {string.Join(", ", endpoints)} with {_core.Targets.Count} target(s)");
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException ex) { _core.Log($"iscsi: accept failed: {ex.Message}"); continue; }
            var connection = new IscsiConnection(_core, socket);
            _core.Add(connection);
            var task = Task.Run(connection.RunAsync);
            lock (_connectionTasks)
            {
                _connectionTasks.RemoveAll(t => t.IsCompleted);
                _connectionTasks.Add(task);
            }
        }
    }

    private async Task ProbeBlockSizeAsync(LunState lun, CancellationToken cancellationToken)
    {
        // READ CAPACITY(16), then (10): the block size lets the target compute SPDTL for residuals.
        // The connection also learns it from READ CAPACITY answers that pass through.
        var data = new byte[12];
        for (int attempt = 0; attempt < 2 && lun.BlockSize == 0; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var srb = SrbPool.Shared.Rent();
            try
            {
                srb.Function = SrbFunction.ExecuteScsi;
                srb.Address = lun.Lun.Address;
                srb.Direction = DataDirection.In;
                var cdb = srb.InitCdb(attempt == 0 ? 16 : 10);
                if (attempt == 0) { cdb[0] = 0x9E; cdb[1] = 0x10; cdb[13] = 32; srb.Data.Rent(32); }
                else { cdb[0] = 0x25; srb.Data.Rent(8); }
                await lun.Lun.Adapter.ExecuteAsync(srb).ConfigureAwait(false);
                if (srb.Status != SrbStatus.Success) continue;
                srb.Data.CopyTo(0, data);
                uint bs = attempt == 0 ? Pdu.Bhs.U32(data, 8) : Pdu.Bhs.U32(data, 4);
                if (bs is >= 512 and <= 1 << 20) lun.BlockSize = (int)bs;
            }
            catch (InvalidOperationException ex) { _core.Log($"iscsi: could not read the capacity of LUN {lun.Lun.LunNumber}: {ex.Message}"); return; }
            finally { srb.Release(); }
        }
    }

    /// <summary>
    /// Closes every connection whose target holds the LU at <paramref name="address"/> of
    /// <paramref name="adapter"/>, as a network failure would (fault injection's connection drop).
    /// The initiator sees its TCP connection end and recovers by logging in again.
    /// </summary>
    /// <returns>How many connections were closed.</returns>
    public int DropConnections(Adapter adapter, ScsiAddress address)
    {
        int closed = 0;
        foreach (var c in _core.Connections.ToList())
        {
            if (c.Session?.Target is not { } target) continue;
            if (!target.Luns.Values.Any(l => ReferenceEquals(l.Lun.Adapter, adapter) && l.Lun.Address == address)) continue;
            c.Close("connection dropped by fault injection");
            closed++;
        }
        return closed;
    }

    /// <summary>
    /// Stops listening, asks logged-in initiators to log out (Async Message, event 1), gives them a
    /// moment, then closes every connection.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        foreach (var listener in _listeners) listener.Dispose();
        try { await Task.WhenAll(_acceptLoops).ConfigureAwait(false); } catch (Exception) { }
        var connections = _core.Connections.ToList();
        foreach (var c in connections) c.RequestLogout(seconds: 0);
        Task[] running;
        lock (_connectionTasks) running = [.. _connectionTasks];
        if (running.Length > 0)
        {
            var all = Task.WhenAll(running);
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromMilliseconds(500))).ConfigureAwait(false);
        }
        foreach (var c in _core.Connections.ToList()) c.Close("server shutting down");
        try { await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); } catch (Exception) { }
        _stop.Dispose();
    }
}
