using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using StorSharp.Nbd.Protocol;
using StorSharp.Nbd.Tests.Support;
using StorSharp.Port;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Server;

/// <summary>The other ways in: an adopted listening socket (systemd LISTEN_FDS) and a connected stream (inetd).</summary>
public class ServingModeTests
{
    [Fact]
    public async Task AdoptedUnixListenerServesNbdInfo()
    {
        var (port, adapter, _) = await MemoryDiskMiniport.StartAsync(1024 * 1024, null, new MemoryDisk(4 * 1024 * 1024));
        await using var _p = port;
        using var dir = new TempDir();
        string path = dir.File("nbd.sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(16);
        await using var server = new NbdServer(new NbdServerOptions { Exports = [new NbdExport("disk0", adapter, new ScsiAddress(0, 0, 0))] });
        await server.AdoptListenerAsync(listener, CancellationToken.None);
        var r = await ExternalProcess.RunAsync("nbdinfo", ["--json", $"nbd+unix:///disk0?socket={path}"], TimeSpan.FromSeconds(60));
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.StdOut);
        Assert.Equal(4 * 1024 * 1024, json.RootElement.GetProperty("exports")[0].GetProperty("export-size").GetInt64());
        var copy = await ExternalProcess.RunAsync("nbdcopy", [$"nbd+unix:///disk0?socket={path}", "null:"], TimeSpan.FromSeconds(60));
        Assert.True(copy.ExitCode == 0, copy.ToString());
    }

    [Fact]
    public async Task ConnectedStreamIsServedToItsEnd()
    {
        var (port, adapter, _) = await MemoryDiskMiniport.StartAsync(1024 * 1024, null, new MemoryDisk(1024 * 1024));
        await using var _p = port;
        await using var server = new NbdServer(new NbdServerOptions { Exports = [new NbdExport("disk0", adapter, new ScsiAddress(0, 0, 0))] });
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = RawNbdClient.ConnectAsync(((IPEndPoint)listener.LocalEndPoint!).Port);
        using var accepted = await listener.AcceptAsync();
        var serving = server.ServeConnectionAsync(new NetworkStream(accepted, ownsSocket: false), CancellationToken.None);
        await using (var c = await client)
        {
            await c.GoAsync();
            var data = Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray();
            await c.SendRequestAsync(NbdCommand.Write, 1, 0, 4096, payload: data);
            Assert.Equal((0u, 1ul), await c.ReadSimpleReplyAsync());
            await c.SendRequestAsync(NbdCommand.Read, 2, 0, 4096);
            Assert.Equal(data, (await c.ReadReadReplyAsync(4096)).Data);
            await c.SendRequestAsync(NbdCommand.Disconnect, 3, 0, 0);
            Assert.True(await c.IsClosedByServerAsync() || serving.IsCompleted);
        }
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task StartFailsForAMissingLu()
    {
        var (port, adapter, _) = await MemoryDiskMiniport.StartAsync(1024 * 1024, null, new MemoryDisk(1024 * 1024));
        await using var _p = port;
        await using var server = new NbdServer(new NbdServerOptions
        {
            Endpoint = new IPEndPoint(IPAddress.Loopback, 0),
            Exports = [new NbdExport("ghost", adapter, new ScsiAddress(0, 0, 7))],
        });
        var ex = await Assert.ThrowsAsync<StorSharp.Block.BlockDeviceException>(() => server.StartAsync(CancellationToken.None));
        Assert.Equal(StorSharp.Block.BlockError.NotReady, ex.Error);
    }

    [Fact]
    public void OptionsAreValidated()
    {
        Assert.Throws<ArgumentException>(() => new NbdServer(new NbdServerOptions { MaxPayload = 100 }));
        Assert.Throws<ArgumentException>(() => new NbdServer(new NbdServerOptions { DefaultExportName = "none" }));
        Assert.Throws<ArgumentException>(() => new NbdServer(new NbdServerOptions { MaxInFlightPerConnection = 0 }));
        var e = Assert.Throws<ArgumentException>(() => new NbdServer(new NbdServerOptions { SendBufferSize = -1 }));
        Assert.Contains("SendBufferSize", e.Message);
    }
}
