using System.Net;
using System.Net.Sockets;
using StorSharp.Nbd;

namespace StorSharp.Host;

/// <summary>The NBD server as the host's front end.</summary>
internal sealed class NbdFrontEnd(NbdFrontEndSpec spec) : INbdFrontEnd, ILunHotPlug
{
    // The exports served now, each with its LU (changes when LUNs are added or removed at run time).
    private readonly List<(NbdExport Export, ComposedLun Lun)> _exports = [.. spec.Exports.Select(e => (Export(e.Export, e.Lun), e.Lun))];
    private readonly NbdServer _server = new(new NbdServerOptions
    {
        Endpoint = spec.Listen ?? new IPEndPoint(IPAddress.Loopback, 0),
        Exports = [.. spec.Exports.Select(e => Export(e.Export, e.Lun))],
        ReceivePollWindow = spec.ReceivePoll,
    });

    private static NbdExport Export(Configuration.NbdExportSettings e, ComposedLun lun) =>
        new(e.Name, lun.Adapter, lun.Address, e.Description, e.ReadOnly || lun.Settings.ReadOnly);
    private bool _listening;
    private ConnectionDropSubscription? _drops;

    public string Protocol => "NBD";

    public IReadOnlyList<IPEndPoint> LocalEndpoints => _listening ? [_server.LocalEndpoint] : [];

    public int SessionCount => _server.ConnectionCount;

    public StorSharp.Transport.ReceivePolling? ReceivePolling => _server.ReceivePolling;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _server.StartAsync(cancellationToken).ConfigureAwait(false);
        SubscribeToConnectionDrops();
        _listening = true;
    }

    public Task ServeConnectionAsync(Stream stream, CancellationToken cancellationToken)
    {
        SubscribeToConnectionDrops();
        return _server.ServeConnectionAsync(stream, cancellationToken);
    }

    public async Task AdoptListenerAsync(Socket listener, CancellationToken cancellationToken)
    {
        await _server.AdoptListenerAsync(listener, cancellationToken).ConfigureAwait(false);
        SubscribeToConnectionDrops();
        _listening = listener.LocalEndPoint is IPEndPoint;
    }

    public async Task LunAddedAsync(ComposedLun lun, Configuration.NbdExportSettings? export, CancellationToken cancellationToken)
    {
        if (export is null) return;
        var nbd = Export(export, lun);
        await _server.AddExportAsync(nbd, cancellationToken).ConfigureAwait(false);
        lock (_exports) _exports.Add((nbd, lun));
        _drops?.Watch(lun.Adapter); // it may have brought a new adapter
    }

    public async Task LunRemovingAsync(ComposedLun lun, CancellationToken cancellationToken)
    {
        foreach (var export in ExportsOf(lun))
        {
            await _server.RemoveExportAsync(export.Name, cancellationToken).ConfigureAwait(false);
            lock (_exports) _exports.RemoveAll(e => ReferenceEquals(e.Export, export));
        }
    }

    public async Task LunResizedAsync(ComposedLun lun, CancellationToken cancellationToken)
    {
        foreach (var export in ExportsOf(lun)) await _server.ReopenExportAsync(export, cancellationToken).ConfigureAwait(false);
    }

    private List<NbdExport> ExportsOf(ComposedLun lun)
    {
        lock (_exports) return [.. _exports.Where(e => ReferenceEquals(e.Lun.Adapter, lun.Adapter) && e.Lun.Address == lun.Address).Select(e => e.Export)];
    }

    /// <summary>Fault injection's connection drop: close the connections to that LU's exports.</summary>
    private void SubscribeToConnectionDrops()
    {
        _drops ??= new ConnectionDropSubscription(_server.DropConnections);
        lock (_exports) _drops.Watch(_exports.Select(e => e.Lun.Adapter).ToList());
    }

    public ValueTask DisposeAsync()
    {
        _drops?.Dispose();
        return _server.DisposeAsync();
    }
}
