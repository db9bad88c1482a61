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

    public string Protocol => "NBD";

    public IReadOnlyList<IPEndPoint> LocalEndpoints => _listening ? [_server.LocalEndpoint] : [];

    public int SessionCount => _server.ConnectionCount;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _server.StartAsync(cancellationToken).ConfigureAwait(false);
        _listening = true;
    }

    public Task ServeConnectionAsync(Stream stream, CancellationToken cancellationToken) => _server.ServeConnectionAsync(stream, cancellationToken);

    public async Task AdoptListenerAsync(Socket listener, CancellationToken cancellationToken)
    {
        await _server.AdoptListenerAsync(listener, cancellationToken).ConfigureAwait(false);
        _listening = listener.LocalEndPoint is IPEndPoint;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
