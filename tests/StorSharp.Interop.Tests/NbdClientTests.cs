using System.Text.Json;

namespace StorSharp.Interop.Tests;

/// <summary>Real NBD clients (libnbd's nbdinfo, qemu-img) against the real storsharp process.</summary>
public sealed class NbdClientTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [InteropFact("nbd", "nbdinfo")]
    public async Task Nbdinfo_sees_the_default_1_GiB_disk()
    {
        await using var server = await StorSharpServer.StartAsync(iscsi: false);
        var result = await Cli.Run("nbdinfo", ["--json", server.NbdUrl()], Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Output);
        var export = json.RootElement.GetProperty("exports")[0];
        Assert.Equal(1L << 30, export.GetProperty("export-size").GetInt64());
        Assert.Equal("disk0", export.GetProperty("export-name").GetString());
    }

    [InteropFact("nbd", "nbdinfo")]
    public async Task Nbdinfo_over_stdio()
    {
        // nbdinfo [ CMD ] runs CMD with the NBD connection on its stdin/stdout.
        var result = await Cli.Run("nbdinfo", ["--json", "[", Cli.DotnetHost, Cli.DllPath, "serve", "--nbd-stdio", "--size", "64M", "--event-log", "off", "]"], Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal(64L << 20, json.RootElement.GetProperty("exports")[0].GetProperty("export-size").GetInt64());
    }

    [InteropFact("nbd", "qemu-img")]
    public async Task Qemu_img_writes_and_compares_over_nbd()
    {
        await using var server = await StorSharpServer.StartAsync(iscsi: false, nbd: true, "--size", "64M");
        using var folder = new TempFolder();
        var image = await Images.RandomRaw(folder, 8 << 20);
        var write = await Cli.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", image, server.NbdUrl()], Bound);
        Assert.True(write.ExitCode == 0, write.ToString());
        var compare = await Cli.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, server.NbdUrl()], Bound);
        Assert.True(compare.ExitCode == 0, compare.ToString());
        Assert.Contains("Images are identical", compare.Output);
    }
}

internal static class Images
{
    /// <summary>A raw image of random bytes.</summary>
    public static async Task<string> RandomRaw(TempFolder folder, int bytes)
    {
        var path = Path.Combine(folder.Path, "random.raw");
        var data = new byte[bytes];
        new Random(1234).NextBytes(data);
        await File.WriteAllBytesAsync(path, data);
        return path;
    }
}
