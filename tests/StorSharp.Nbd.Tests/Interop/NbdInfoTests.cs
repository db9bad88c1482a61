using System.Text.Json;
using StorSharp.Nbd.Tests.Support;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Interop;

public class NbdInfoTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task NbdInfoJsonReportsSizeAndFlags()
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
        Assert.Equal(32 * 1024 * 1024, export.GetProperty("block_size_maximum").GetInt64());
        Assert.Equal("memory disk 0", export.GetProperty("description").GetString());
        Assert.Contains("base:allocation", export.GetProperty("contexts").EnumerateArray().Select(e => e.GetString()));
    }
}
