using System.Net;
using StorSharp.Port;

namespace StorSharp.Iscsi.Tests;

/// <summary>A port with a RAM-disk adapter and an iSCSI target server on a free loopback port.</summary>
internal sealed class TestTarget : IAsyncDisposable
{
    public const string TargetName = "iqn.2026-11.org.storsharp:test";
    public const string SecondTargetName = "iqn.2026-11.org.storsharp:acl";

    private TestTarget(StoragePort port, Adapter adapter, RamDiskMiniport miniport, IscsiTargetServer server, List<string> log)
    {
        Port = port;
        Adapter = adapter;
        Miniport = miniport;
        Server = server;
        Log = log;
    }

    public StoragePort Port { get; }
    public Adapter Adapter { get; }
    public RamDiskMiniport Miniport { get; }
    public IscsiTargetServer Server { get; }
    public List<string> Log { get; }
    public IPEndPoint Endpoint => Server.LocalEndpoints[0];
    public string Url(int lun = 0) => $"iscsi://127.0.0.1:{Endpoint.Port}/{TargetName}/{lun}";

    public static async Task<TestTarget> StartAsync(Action<IscsiTargetOptions>? configure = null, long blocks = 8192, ulong secondLunNumber = 300)
    {
        var port = new StoragePort();
        var miniport = new RamDiskMiniport(2, blocks);
        var adapter = await port.AddAdapterAsync(RamDiskMiniport.Registration(miniport));
        var options = new IscsiTargetOptions
        {
            Portals = [new IPEndPoint(IPAddress.Loopback, 0)],
            Targets =
            [
                new IscsiTargetDefinition(TargetName,
                [
                    new IscsiLun(0, adapter, new ScsiAddress(0, 0, 0)),
                    new IscsiLun(secondLunNumber, adapter, new ScsiAddress(0, 0, 1)),
                ]) { Alias = "test disk" },
                new IscsiTargetDefinition(SecondTargetName, [new IscsiLun(0, adapter, new ScsiAddress(0, 0, 1))])
                {
                    AllowedInitiators = ["iqn.2026-11.org.storsharp:allowed"],
                },
            ],
            NopInInterval = TimeSpan.Zero,
        };
        configure?.Invoke(options);
        var log = new List<string>();
        var server = new IscsiTargetServer(options, line => { lock (log) log.Add(line); });
        await server.StartAsync(CancellationToken.None);
        return new TestTarget(port, adapter, miniport, server, log);
    }

    public async ValueTask DisposeAsync()
    {
        Miniport.ReleaseHeld();
        await Server.DisposeAsync();
        await Port.DisposeAsync();
    }
}
