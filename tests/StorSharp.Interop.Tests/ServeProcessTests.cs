using System.Net;
using System.Net.Sockets;

namespace StorSharp.Interop.Tests;

/// <summary>The storsharp process itself: exit codes, signals, releasing ports.</summary>
public sealed class ServeProcessTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Version_and_help_of_the_built_binary()
    {
        var version = await Cli.RunStorSharp(Bound, "version");
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.StartsWith("storsharp ", version.Output);
        Assert.Contains("runtime .NET", version.Output);
        Assert.Contains("commit ", version.Output);

        var help = await Cli.RunStorSharp(Bound, "--help");
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("serve", help.Output);
    }

    [Fact]
    public async Task Bad_config_exits_2_naming_line_and_field()
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "storsharp.yaml");
        await File.WriteAllTextAsync(path, "targets:\n  - iqn: iqn.2026-11.io.storsharp:disk0\nluns:\n  - size: 64M\n    blockSize: 1024\nnbd: off\n");
        var result = await Cli.RunStorSharp(Bound, "serve", "--config", path);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"{path} line 5: luns[0].blockSize: 1024 is not supported; use 512 or 4096", result.Error);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task Unknown_option_exits_2()
    {
        var result = await Cli.RunStorSharp(Bound, "serve", "--no-such-option");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--no-such-option", result.Error);
    }

    [InteropFact]
    public async Task Port_in_use_exits_1()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var result = await Cli.RunStorSharp(Bound, "serve", "--event-log", "off", "--iscsi", $"127.0.0.1:{port}", "--nbd", "off");
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("already in use", result.Error);
    }

    /// <summary>SIGTERM and SIGINT stop the server cleanly: exit 0 within seconds, and the ports are free again, even with a client connected.</summary>
    [InteropFact]
    public async Task Signal_stops_cleanly_and_releases_the_ports()
    {
        foreach (var signal in new[] { 15, 2 })
        {
            await using var server = await StorSharpServer.StartAsync(true, true, "--size", "64M");
            var port = server.NbdPort;
            // An idle client connection: the server must close it rather than wait for it.
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(10));

            server.Signal(signal);
            var code = await server.WaitForExitAsync(TimeSpan.FromSeconds(15));
            Assert.True(code == 0, $"signal {signal}: exit {code?.ToString() ?? "none within 15 s"}\n{server.Output}\n{server.Error}");
            Assert.Contains("Stopped.", server.Output);

            using var again = new TcpListener(IPAddress.Loopback, port);
            again.Start(); // throws if the port were still held
            again.Stop();
        }
    }
}
