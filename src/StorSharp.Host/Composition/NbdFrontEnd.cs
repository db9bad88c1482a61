using System.Net;
using System.Net.Sockets;
using StorSharp.Nbd;

namespace StorSharp.Host;

/// <summary>The NBD server as the host's front end.</summary>
internal sealed class NbdFrontEnd(NbdFrontEndSpec spec) : INbdFrontEnd
{
    private readonly NbdServer _server = new(new NbdServerOptions
    {
        Endpoint = spec.Listen ?? new IPEndPoint(IPAddress.Loopback, 0),
        Exports = [.. spec.Exports.Select(e => new NbdExport(e.Export.Name, e.Lun.Adapter, e.Lun.Address, e.Export.Description, e.Export.ReadOnly || e.Lun.Settings.ReadOnly))],
    });
    private bool _listening;
    private ConnectionDropSubscription? _drops;

    public string Protocol => "NBD";

    public IReadOnlyList<IPEndPoint> LocalEndpoints => _listening ? [_server.LocalEndpoint] : [];

    public int SessionCount => _server.ConnectionCount;

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

    /// <summary>Fault injection's connection drop: close the connections to that LU's exports.</summary>
    private void SubscribeToConnectionDrops() =>
        _drops ??= new ConnectionDropSubscription(spec.Exports.Select(e => e.Lun.Adapter), _server.DropConnections);

    public ValueTask DisposeAsync()
    {
        _drops?.Dispose();
        return _server.DisposeAsync();
    }
}
