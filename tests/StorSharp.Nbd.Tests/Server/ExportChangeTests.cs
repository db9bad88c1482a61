using System.Buffers.Binary;
using System.Text;
using StorSharp.Nbd.Protocol;
using StorSharp.Nbd.Tests.Support;
using StorSharp.Port;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Server;

/// <summary>Exports added, reopened and removed while the server runs (LUNs hot plugged on the host).</summary>
public sealed class ExportChangeTests
{
    private static async Task<List<string>> ListAsync(int port)
    {
        await using var c = await RawNbdClient.ConnectAsync(port);
        await c.HandshakeAsync();
        await c.SendOptionAsync(NbdOption.List, default);
        var names = new List<string>();
        while (true)
        {
            var (_, type, data) = await c.ReadOptionReplyAsync();
            if (type == NbdOptionReplyType.Ack) return names;
            Assert.Equal(NbdOptionReplyType.Server, type);
            names.Add(Encoding.UTF8.GetString(data, 4, (int)BinaryPrimitives.ReadUInt32BigEndian(data)));
        }
    }

    private static async Task<NbdOptionReplyType> InfoAsync(int port, string export)
    {
        await using var c = await RawNbdClient.ConnectAsync(port);
        await c.HandshakeAsync();
        await c.SendOptionAsync(NbdOption.Info, RawNbdClient.InfoRequest(export));
        return (await c.ReadOptionReplyAsync()).Type;
    }

    [Fact]
    public async Task An_added_export_is_listed_and_served_and_a_removed_one_is_unknown_to_new_connections()
    {
        // Two disks, only disk0 exported at start.
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(1 << 20), new MemoryDisk(2 << 20)],
            configure: o => o.Exports = [o.Exports[0]]);
        Assert.Equal(["disk0"], await ListAsync(t.TcpPort));
        Assert.Equal(NbdOptionReplyType.ErrUnknown, await InfoAsync(t.TcpPort, "late"));

        await t.Server.AddExportAsync(new NbdExport("late", t.Adapter, new ScsiAddress(0, 0, 1)));

        Assert.Equal(["disk0", "late"], await ListAsync(t.TcpPort));
        await using var served = await RawNbdClient.ConnectAsync(t.TcpPort);
        var (size, _) = await served.GoAsync("late");
        Assert.Equal(2UL << 20, size);
        await Assert.ThrowsAsync<ArgumentException>(() => t.Server.AddExportAsync(new NbdExport("late", t.Adapter, new ScsiAddress(0, 0, 0))));

        Assert.True(await t.Server.RemoveExportAsync("late"));

        Assert.Equal(["disk0"], await ListAsync(t.TcpPort));
        Assert.Equal(NbdOptionReplyType.ErrUnknown, await InfoAsync(t.TcpPort, "late"));
        Assert.False(await t.Server.RemoveExportAsync("late"));
        await Assert.ThrowsAsync<ArgumentException>(() => t.Server.ReopenExportAsync(new NbdExport("late", t.Adapter, new ScsiAddress(0, 0, 1))));
        // The connection made before the removal keeps working while the LU is there.
        await served.SendRequestAsync(NbdCommand.Read, 7, 0, 4096);
        var (error, cookie, _) = await served.ReadReadReplyAsync(4096);
        Assert.Equal((0u, 7UL), (error, cookie));
    }
}
