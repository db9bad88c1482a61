using System.Net;
using StorSharp.Iscsi;

namespace StorSharp.Host;

/// <summary>The iSCSI target as the host's front end.</summary>
internal sealed class IscsiFrontEnd(IscsiFrontEndSpec spec) : IFrontEnd, ILunHotPlug
{
    private readonly IscsiTargetServer _server = new(new IscsiTargetOptions
    {
        Portals = spec.Portals,
        Targets = [.. spec.Targets.Select(t => new IscsiTargetDefinition(t.Target.Iqn, [.. t.Luns.Select(l => new IscsiLun((ulong)l.Settings.Number, l.Adapter, l.Address))])
        {
            Alias = t.Target.Alias,
            AllowedInitiators = t.Target.Acl.Count == 0 ? null : t.Target.Acl,
            Chap = t.Target.Chap is { } c ? new ChapCredentials(c.User, c.Secret) : null,
            MutualChap = t.Target.MutualChap is { } m ? new ChapCredentials(m.User, m.Secret) : null,
        })],
    });

    public string Protocol => "iSCSI";

    public IReadOnlyList<IPEndPoint> LocalEndpoints => _server.LocalEndpoints;

    public int SessionCount => _server.SessionCount;

    private ConnectionDropSubscription? _drops;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _server.StartAsync(cancellationToken).ConfigureAwait(false);
        // Fault injection's connection drop: close the connections to that LU.
        _drops = new ConnectionDropSubscription(_server.DropConnections);
        _drops.Watch(spec.Targets.SelectMany(t => t.Luns).Select(l => l.Adapter));
    }

    public async Task LunAddedAsync(ComposedLun lun, Configuration.NbdExportSettings? export, CancellationToken cancellationToken)
    {
        await _server.AddLunAsync(lun.Settings.Target, new IscsiLun((ulong)lun.Settings.Number, lun.Adapter, lun.Address), cancellationToken).ConfigureAwait(false);
        _drops?.Watch(lun.Adapter); // it may have brought a new adapter
    }

    public Task LunRemovingAsync(ComposedLun lun, CancellationToken cancellationToken)
    {
        _server.RemoveLun(lun.Settings.Target, (ulong)lun.Settings.Number);
        return Task.CompletedTask;
    }

    public Task LunResizedAsync(ComposedLun lun, CancellationToken cancellationToken)
    {
        _server.ReportCapacityChanged(lun.Settings.Target, (ulong)lun.Settings.Number);
        return Task.CompletedTask;
    }


    public ValueTask DisposeAsync()
    {
        _drops?.Dispose();
        return _server.DisposeAsync();
    }
}
