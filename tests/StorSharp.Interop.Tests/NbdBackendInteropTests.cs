using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace StorSharp.Interop.Tests;

/// <summary>
/// <c>storsharp serve --config</c> with a LUN whose backend is a remote NBD export served by
/// nbdkit: data written and read through StorSharp's own NBD front end and through iSCSI, and
/// nbdkit killed and restarted while StorSharp is serving.
/// </summary>
public sealed class NbdBackendInteropTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private const string Iqn = "iqn.2026-11.io.storsharp:disk0";

    private static string Config(string socket) => $"""
        targets:
          - iqn: {Iqn}
        luns:
          - number: 0
            backend: nbd
            uri: nbd+unix:///?socket={socket}
            timeout: 20s
            reconnect:
              delay: 50ms
              maxDelay: 500ms
              wait: 60s
        nbd:
          exports:
            - name: disk0
        """;

    private static string Sha256(string file)
    {
        using var s = File.OpenRead(file);
        return Convert.ToHexString(SHA256.HashData(s));
    }

    private static string RandomImage(string folder, string name, int bytes, int seed)
    {
        var data = new byte[bytes];
        new Random(seed).NextBytes(data);
        var path = Path.Combine(folder, name);
        File.WriteAllBytes(path, data);
        return path;
    }

    [InteropFact("nbdkit", "qemu-img")]
    public async Task An_nbdkit_memory_export_served_over_nbd_and_iscsi_keeps_the_data()
    {
        using var folder = new TempFolder();
        var socket = Path.Combine(folder.Path, "nbdkit.sock");
        await using var nbdkit = await Nbdkit.StartAsync(socket, "memory", "64M");
        var config = Path.Combine(folder.Path, "storsharp.yaml");
        await File.WriteAllTextAsync(config, Config(socket));
        await using var server = await StorSharpServer.StartAsync(true, true, "--config", config);
        var image = RandomImage(folder.Path, "in.raw", 64 << 20, seed: 1);

        var write = await Cli.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", image, server.NbdUrl()], Bound);
        Assert.True(write.ExitCode == 0, write + "\n" + server.Error);
        var viaIscsi = Path.Combine(folder.Path, "via-iscsi.raw");
        var read = await Cli.Run("qemu-img", ["convert", "-f", "raw", "-O", "raw", server.IscsiUrl(), viaIscsi], Bound);
        Assert.True(read.ExitCode == 0, read + "\n" + server.Error);
        var direct = Path.Combine(folder.Path, "direct.raw");
        var fromNbdkit = await Cli.Run("qemu-img", ["convert", "-f", "raw", "-O", "raw", $"nbd+unix:///?socket={socket}", direct], Bound);
        Assert.True(fromNbdkit.ExitCode == 0, fromNbdkit.ToString());

        Assert.Equal(Sha256(image), Sha256(viaIscsi));
        Assert.Equal(Sha256(image), Sha256(direct));   // the bytes really are on the remote server
    }

    [InteropFact("nbdkit", "qemu-img")]
    public async Task Nbdkit_killed_and_restarted_while_storsharp_serves_loses_nothing()
    {
        using var folder = new TempFolder();
        var socket = Path.Combine(folder.Path, "nbdkit.sock");
        var backing = Path.Combine(folder.Path, "backing.raw");
        using (var f = File.Create(backing)) f.SetLength(64 << 20);
        await using var nbdkit = await Nbdkit.StartAsync(socket, "file", backing);
        var config = Path.Combine(folder.Path, "storsharp.yaml");
        await File.WriteAllTextAsync(config, Config(socket));
        await using var server = await StorSharpServer.StartAsync(true, true, "--config", config);
        var first = RandomImage(folder.Path, "first.raw", 64 << 20, seed: 2);
        var second = RandomImage(folder.Path, "second.raw", 64 << 20, seed: 3);

        // 1. nbdkit killed (SIGKILL) in the middle of a 64 MiB write through iSCSI, back 500 ms later.
        var copy = Cli.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", first, server.IscsiUrl()], Bound);
        await Task.Delay(300);
        await nbdkit.KillAsync();
        await Task.Delay(500);
        await nbdkit.StartAsync();
        var copied = await copy;
        Assert.True(copied.ExitCode == 0, copied + "\n" + server.Error);
        var compare = await Cli.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", first, server.NbdUrl()], Bound);
        Assert.True(compare.ExitCode == 0, compare + "\n" + server.Error);

        // 2. nbdkit gone before the write starts: StorSharp holds the requests until it is back.
        await nbdkit.KillAsync();
        var held = Cli.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", second, server.NbdUrl()], Bound);
        await Task.Delay(1000);
        Assert.False(held.IsCompleted, "the copy finished while the remote server was down");
        await nbdkit.StartAsync();
        var heldResult = await held;
        Assert.True(heldResult.ExitCode == 0, heldResult + "\n" + server.Error);

        var viaIscsi = Path.Combine(folder.Path, "via-iscsi.raw");
        var read = await Cli.Run("qemu-img", ["convert", "-f", "raw", "-O", "raw", server.IscsiUrl(), viaIscsi], Bound);
        Assert.True(read.ExitCode == 0, read + "\n" + server.Error);
        Assert.Equal(Sha256(second), Sha256(viaIscsi));
        Assert.Equal(Sha256(second), Sha256(backing));
        Assert.Contains("reconnected", server.Error);
        Assert.Contains("lost", server.Error);
    }

    /// <summary>nbdkit in the foreground on a Unix socket, in a session of its own, killed by PID.</summary>
    private sealed class Nbdkit : IAsyncDisposable
    {
        private readonly string _socket;
        private readonly string[] _plugin;
        private Process? _process;

        private Nbdkit(string socket, string[] plugin)
        {
            _socket = socket;
            _plugin = plugin;
        }

        public static async Task<Nbdkit> StartAsync(string socket, params string[] plugin)
        {
            var nbdkit = new Nbdkit(socket, plugin);
            await nbdkit.StartAsync();
            return nbdkit;
        }

        public async Task StartAsync()
        {
            for (var attempt = 1; ; attempt++)
            {
                if (File.Exists(_socket)) File.Delete(_socket);
                var psi = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in (string[])["nbdkit", "--foreground", "-U", _socket, .. _plugin]) psi.ArgumentList.Add(a);
                var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start nbdkit");
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                _process = process;
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
                while (!process.HasExited && !await Listening() && DateTime.UtcNow < deadline) await Task.Delay(20);
                await Task.Delay(200);
                if (!process.HasExited) return;
                // An nbdkit started right after another was killed sometimes quits cleanly at once: start it again.
                if (process.ExitCode != 0 || attempt == 3) throw new InvalidOperationException($"nbdkit exited with {process.ExitCode}");
            }
        }

        private async Task<bool> Listening()
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await s.ConnectAsync(new UnixDomainSocketEndPoint(_socket));
                return true;
            }
            catch (SocketException) { return false; }
        }

        public async Task KillAsync()
        {
            if (_process is not { } process) return;
            _process = null;
            try
            {
                if (!process.HasExited) process.Kill();
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (InvalidOperationException) { }
            finally { process.Dispose(); }
        }

        public async ValueTask DisposeAsync() => await KillAsync();
    }
}
