using System.Text.Json;

namespace StorSharp.Interop.Tests;

/// <summary>Real NBD clients (libnbd's nbdinfo, qemu-img) against the real storsharp process.</summary>
public sealed class NbdClientTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [InteropFact("nbdinfo")]
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

    [InteropFact("nbdinfo")]
    public async Task Nbdinfo_starts_the_server_by_socket_activation()
    {
        // nbdinfo -- [ CMD ] runs CMD with a listening socket on fd 3 (LISTEN_PID / LISTEN_FDS) and stops it with SIGTERM.
        var result = await Cli.Run("nbdinfo", ["--json", "--", "[", Cli.DotnetHost, Cli.DllPath, "serve", "--size", "64M", "--event-log", "off", "]"], Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal(64L << 20, json.RootElement.GetProperty("exports")[0].GetProperty("export-size").GetInt64());
    }

    [InteropFact]
    public async Task Nbd_stdio_speaks_nbd_on_standard_output_and_exits_when_input_closes()
    {
        using var process = Cli.Start(["serve", "--nbd-stdio", "--size", "64M", "--event-log", "off"], redirectInput: true);
        try
        {
            var hello = new byte[18];
            var stdout = process.StandardOutput.BaseStream;
            var read = 0;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (read < hello.Length)
            {
                var n = await stdout.ReadAsync(hello.AsMemory(read), cts.Token).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
                if (n == 0) Assert.Fail("standard output closed before the NBD greeting");
                read += n;
            }
            Assert.Equal("NBDMAGICIHAVEOPT", System.Text.Encoding.ASCII.GetString(hello, 0, 16));
            process.StandardInput.Close(); // the client goes away
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [InteropFact("qemu-img")]
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
