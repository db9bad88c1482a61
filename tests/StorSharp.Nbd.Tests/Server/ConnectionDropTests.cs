using StorSharp.Nbd.Protocol;
using StorSharp.Nbd.Tests.Support;
using StorSharp.Port;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Server;

/// <summary>Fault injection's connection drop: the connections to one LU end, the others go on.</summary>
public class ConnectionDropTests
{
    [Fact]
    public async Task Dropping_an_lu_closes_only_its_connections_and_clients_can_connect_again()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(4 * 1024 * 1024), new MemoryDisk(4 * 1024 * 1024)]);
        await using var a = await RawNbdClient.ConnectAsync(t.TcpPort);
        await a.GoAsync("disk0");
        await using var b = await RawNbdClient.ConnectAsync(t.TcpPort);
        await b.GoAsync("disk0");
        await using var other = await RawNbdClient.ConnectAsync(t.TcpPort);
        await other.GoAsync("disk1");
        // Still negotiating: not serving any LU yet, so not dropped.
        await using var negotiating = await RawNbdClient.ConnectAsync(t.TcpPort);
        await negotiating.ReadGreetingAsync();

        Assert.Equal(2, t.Server.DropConnections(t.Adapter, new ScsiAddress(0, 0, 0)));

        Assert.True(await a.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        Assert.True(await b.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains(t.Log, l => l.Contains("dropping the connection: connection dropped by fault injection"));

        // The connection to the other LU is untouched.
        var data = new byte[4096];
        new Random(7).NextBytes(data);
        await other.SendRequestAsync(NbdCommand.Write, 1, 0, (uint)data.Length, payload: data);
        Assert.Equal((0u, 1ul), await other.ReadSimpleReplyAsync());
        Assert.Equal(data, t.Disks[1].Bytes.AsSpan(0, data.Length).ToArray());

        // A client of the dropped LU reconnects and is served.
        await using var again = await RawNbdClient.ConnectAsync(t.TcpPort);
        var (size, _) = await again.GoAsync("disk0");
        Assert.Equal(4ul * 1024 * 1024, size);

        // The server's connection count comes down to the three still open.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (t.Server.ConnectionCount != 3 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(3, t.Server.ConnectionCount);
        Assert.Equal(0, t.Server.DropConnections(t.Adapter, new ScsiAddress(0, 0, 5)));
    }
}
