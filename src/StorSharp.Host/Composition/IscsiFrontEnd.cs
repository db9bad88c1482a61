using System.Net;
using StorSharp.Iscsi;

namespace StorSharp.Host;

/// <summary>The iSCSI target as the host's front end.</summary>
internal sealed class IscsiFrontEnd(IscsiFrontEndSpec spec) : IFrontEnd
{
    private readonly IscsiTargetServer _server = new(new IscsiTargetOptions
    {
        Portals = spec.Portals,
        Targets = [.. spec.Targets.Select(t => new IscsiTargetDefinition(t.Target.Iqn, [.. t.Luns.Select(l => new IscsiLun((ulong)l.Settings.Number, spec.Adapter, l.Address))])
        {
            Alias = t.Target.Alias,
            AllowedInitiators = t.Target.Acl.Count == 0 ? null : t.Target.Acl,
            Chap = t.Target.Chap is { } c ? new ChapCredentials(c.User, c.Secret) : null,
            MutualChap = t.Target.MutualChap is { } m ? new ChapCredentials(m.User, m.Secret) : null,
        })],
    });

    public string Protocol => "iSCSI";

    public IReadOnlyList<IPEndPoint> LocalEndpoints => _server.LocalEndpoints;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _server.StartAsync(cancellationToken).ConfigureAwait(false);
        spec.Adapter.ConnectionDropRequested += OnDropRequested;
    }

    private void OnDropRequested(StorSharp.Port.ScsiAddress address) => _server.DropConnections(spec.Adapter, address);

    public ValueTask DisposeAsync()
    {
        spec.Adapter.ConnectionDropRequested -= OnDropRequested;
        return _server.DisposeAsync();
    }
}
