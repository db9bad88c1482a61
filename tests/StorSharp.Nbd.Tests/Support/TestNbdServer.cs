using System.Net;
using StorSharp.Nbd;
using StorSharp.Port;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Support;

/// <summary>A port with a memory-disk adapter and an NBD server on 127.0.0.1, port 0. Dispose stops both.</summary>
public sealed class TestNbdServer : IAsyncDisposable
{
    private readonly List<string> _log = [];

    private TestNbdServer(StoragePort port, Adapter adapter, MemoryDiskMiniport miniport, MemoryDisk[] disks)
    {
        Port = port;
        Adapter = adapter;
        Miniport = miniport;
        Disks = disks;
    }

    public StoragePort Port { get; }
    public Adapter Adapter { get; }
    public MemoryDiskMiniport Miniport { get; }
    public MemoryDisk[] Disks { get; }
    public NbdServer Server { get; private set; } = null!;
    public int TcpPort => Server.LocalEndpoint.Port;

    public string Uri(string export = "disk0") => $"nbd://127.0.0.1:{TcpPort}/{export}";

    public string[] Log { get { lock (_log) return [.. _log]; } }

    /// <summary>Starts a server with one export "disk0" per disk (disk1, ...), the first the default.</summary>
    public static async Task<TestNbdServer> StartAsync(MemoryDisk[]? disks = null, int maxTransfer = 1024 * 1024,
        Action<NbdServerOptions>? configure = null, PortOptions? portOptions = null, Func<int, NbdExport, NbdExport>? exportFor = null)
    {
        disks ??= [new MemoryDisk(16 * 1024 * 1024)];
        var (port, adapter, miniport) = await MemoryDiskMiniport.StartAsync(maxTransfer, portOptions, disks);
        var t = new TestNbdServer(port, adapter, miniport, disks);
        var exports = new List<NbdExport>();
        for (int i = 0; i < disks.Length; i++)
        {
            var e = new NbdExport($"disk{i}", adapter, new ScsiAddress(0, 0, (byte)i), $"memory disk {i}");
            exports.Add(exportFor?.Invoke(i, e) ?? e);
        }
        var options = new NbdServerOptions { Endpoint = new IPEndPoint(IPAddress.Loopback, 0), Exports = exports };
        configure?.Invoke(options);
        t.Server = new NbdServer(options, line => { lock (t._log) t._log.Add(line); });
        try
        {
            await t.Server.StartAsync(CancellationToken.None);
        }
        catch
        {
            await t.DisposeAsync();
            throw;
        }
        return t;
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
        {
            var stop = Server.DisposeAsync().AsTask();
            if (await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(30))) != stop)
                throw new TimeoutException("The NBD server did not stop within 30 s. Log:\n" + string.Join('\n', Log));
        }
        await Port.DisposeAsync();
    }
}
