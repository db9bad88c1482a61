using System.Net;
using System.Net.Sockets;
using StorSharp.Iscsi.Connection;
using StorSharp.Iscsi.Login;
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

    // ------------------------------------------------------------------ hot plug

    /// <summary>
    /// Adds a LUN to a target at run time: sessions see it in REPORT LUNS from now on, and every
    /// normal session of the target gets an Asynchronous Message (SCSI async event, sense REPORTED
    /// LUNS DATA HAS CHANGED 3F/0E) so an initiator that listens (open-iscsi) rescans. The LU must
    /// already be present on its adapter.
    /// </summary>
    /// <exception cref="ArgumentException">No such target, the LUN number is taken, or it is above 16383.</exception>
    public async Task AddLunAsync(string target, IscsiLun lun, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lun);
        var entry = _core.FindTarget(target) ?? throw new ArgumentException($"There is no target '{target}'.", nameof(target));
        if (lun.LunNumber > 16383) throw new ArgumentException($"LUN {lun.LunNumber} is above 16383, the largest flat-space LUN.", nameof(lun));
        var state = new LunState(lun);
        await ProbeBlockSizeAsync(state, cancellationToken).ConfigureAwait(false);
        if (!entry.TryAddLun(state)) throw new ArgumentException($"Target '{target}' already has LUN {lun.LunNumber}.", nameof(lun));
        _core.Log($"iscsi: LUN {lun.LunNumber} added to {entry.Name}");
        ReportUnitAttention(entry, lun.LunNumber, 0x3F, 0x0E);
    }

    /// <summary>
    /// Removes a LUN from a target at run time: new commands to it answer LOGICAL UNIT NOT SUPPORTED
    /// (25/00), REPORT LUNS leaves it out, and every normal session of the target gets an
    /// Asynchronous Message with REPORTED LUNS DATA HAS CHANGED (3F/0E). Commands already sent
    /// complete as the port completes them.
    /// </summary>
    /// <returns>False when the target has no such LUN.</returns>
    public bool RemoveLun(string target, ulong lunNumber)
    {
        if (_core.FindTarget(target) is not { } entry || entry.RemoveLun(lunNumber) is null) return false;
        _core.Log($"iscsi: LUN {lunNumber} removed from {entry.Name}");
        ReportUnitAttention(entry, lunNumber, 0x3F, 0x0E);
        return true;
    }

    /// <summary>
    /// Tells the sessions of a target that a LUN's capacity changed: an Asynchronous Message with
    /// CAPACITY DATA HAS CHANGED (2A/09). The LU itself reports the unit attention on the next command.
    /// </summary>
    /// <returns>False when the target has no such LUN.</returns>
    public bool ReportCapacityChanged(string target, ulong lunNumber)
    {
        if (_core.FindTarget(target) is not { } entry || !entry.Luns.ContainsKey(lunNumber)) return false;
        ReportUnitAttention(entry, lunNumber, 0x2A, 0x09);
        return true;
    }

    /// <summary>RFC 7143 §11.9, AsyncEvent 0: the unit attention as a SCSI asynchronous event to every normal session of the target.</summary>
    private void ReportUnitAttention(TargetEntry entry, ulong lunNumber, byte asc, byte ascq)
    {
        ulong field = LunAddressing.Encode(lunNumber);
        foreach (var c in _core.Connections.ToList())
            if (ReferenceEquals(c.Session?.Target, entry)) c.SendScsiAsyncEvent(field, asc, ascq);
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
