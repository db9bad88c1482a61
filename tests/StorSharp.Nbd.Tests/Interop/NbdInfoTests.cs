using System.Text.Json;
using StorSharp.Nbd.Tests.Support;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Interop;

/// <summary>libnbd's nbdinfo against the in-process server over 127.0.0.1.</summary>
public class NbdInfoTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task JsonReportsSizeAndFlags()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(16 * 1024 * 1024)]);
        var r = await ExternalProcess.RunAsync("nbdinfo", ["--json", t.Uri()], Limit);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.StdOut);
        var root = json.RootElement;
        Assert.Equal("newstyle-fixed", root.GetProperty("protocol").GetString());
        var export = root.GetProperty("exports")[0];
        Assert.Equal("disk0", export.GetProperty("export-name").GetString());
        Assert.Equal(16 * 1024 * 1024, export.GetProperty("export-size").GetInt64());
        Assert.False(export.GetProperty("is_read_only").GetBoolean());
        Assert.True(export.GetProperty("can_flush").GetBoolean());
        Assert.True(export.GetProperty("can_fua").GetBoolean());
        Assert.True(export.GetProperty("can_trim").GetBoolean());
        Assert.True(export.GetProperty("can_zero").GetBoolean());
        Assert.True(export.GetProperty("can_fast_zero").GetBoolean());
        Assert.True(export.GetProperty("can_multi_conn").GetBoolean());
        Assert.True(export.GetProperty("can_cache").GetBoolean());
        Assert.True(export.GetProperty("can_df").GetBoolean());
        Assert.False(export.GetProperty("is_rotational").GetBoolean());
        Assert.Equal(512, export.GetProperty("block_size_minimum").GetInt64());
        Assert.Equal(4096, export.GetProperty("block_size_preferred").GetInt64());
        Assert.Equal(32 * 1024 * 1024, export.GetProperty("block_size_maximum").GetInt64());
        Assert.Equal("memory disk 0", export.GetProperty("description").GetString());
        Assert.Contains("base:allocation", export.GetProperty("contexts").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task JsonReportsReadOnlyExport()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(1024 * 1024)], exportFor: (_, e) => e with { ReadOnly = true });
        var r = await ExternalProcess.RunAsync("nbdinfo", ["--json", t.Uri()], Limit);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.StdOut);
        var export = json.RootElement.GetProperty("exports")[0];
        Assert.True(export.GetProperty("is_read_only").GetBoolean());
        Assert.False(export.GetProperty("can_trim").GetBoolean());
        Assert.False(export.GetProperty("can_zero").GetBoolean());
    }

    [Fact]
    public async Task ListShowsEveryExport()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(1024 * 1024), new MemoryDisk(2 * 1024 * 1024, blockSize: 4096)]);
        var r = await ExternalProcess.RunAsync("nbdinfo", ["--list", "--json", $"nbd://127.0.0.1:{t.TcpPort}"], Limit);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.StdOut);
        var exports = json.RootElement.GetProperty("exports").EnumerateArray().ToDictionary(e => e.GetProperty("export-name").GetString()!);
        Assert.Equal(2, exports.Count);
        Assert.Equal(1024 * 1024, exports["disk0"].GetProperty("export-size").GetInt64());
        Assert.Equal(2 * 1024 * 1024, exports["disk1"].GetProperty("export-size").GetInt64());
        Assert.Equal(4096, exports["disk1"].GetProperty("block_size_minimum").GetInt64());
    }

    [Fact]
    public async Task EmptyNameServesTheDefaultExport()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(1024 * 1024), new MemoryDisk(2 * 1024 * 1024)], configure: o => o.DefaultExportName = "disk1");
        var r = await ExternalProcess.RunAsync("nbdinfo", ["--size", $"nbd://127.0.0.1:{t.TcpPort}"], Limit);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("2097152", r.StdOut.Trim());
    }

    [Fact]
    public async Task MapShowsHolesAndData()
    {
        var disk = new MemoryDisk(8 * 1024 * 1024);
        // Data in the second MiB only; the rest is deallocated (GET LBA STATUS: deallocated, LBPRZ).
        new Random(5).NextBytes(disk.Bytes.AsSpan(1024 * 1024, 1024 * 1024));
        Array.Fill(disk.Mapped, true, 2048, 2048);
        await using var t = await TestNbdServer.StartAsync([disk]);
        var r = await ExternalProcess.RunAsync("nbdinfo", ["--map", "--json", t.Uri()], Limit);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.StdOut);
        var map = json.RootElement.EnumerateArray().Select(e => (Offset: e.GetProperty("offset").GetInt64(), Length: e.GetProperty("length").GetInt64(), Type: e.GetProperty("type").GetInt32())).ToList();
        Assert.Equal([(0L, 1024L * 1024, 3), (1024L * 1024, 1024L * 1024, 0), (2048L * 1024, 6L * 1024 * 1024, 3)], map);
    }
}
