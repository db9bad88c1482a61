using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StorSharp.Nbd.Client;

namespace StorSharp.Nbd.Tests.Client.Support;

/// <summary>
/// A real NBD server (nbdkit or qemu-nbd) started as a child process on a Unix socket or a free
/// 127.0.0.1 port, killed by its PID (also on dispose), and restartable with the same arguments.
/// </summary>
public sealed class ExternalNbdServer : IAsyncDisposable
{
    private readonly string _file;
    private readonly List<string> _arguments;
    private readonly StringBuilder _stderr = new();
    private Process? _process;

    private ExternalNbdServer(string file, List<string> arguments, NbdServerAddress address)
    {
        _file = file;
        _arguments = arguments;
        Address = address;
    }

    public NbdServerAddress Address { get; }

    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>nbdkit in the foreground on a Unix socket (or TCP when <paramref name="tcp"/>): <c>nbdkit [filters] plugin args</c>.</summary>
    public static Task<ExternalNbdServer> NbdkitAsync(string socketDirectory, bool tcp, params string[] pluginAndArguments)
    {
        // No --exit-with-parent: Linux ties it to the spawning thread, and .NET spawns from pool threads that come and go.
        var args = new List<string> { "--foreground" };
        NbdServerAddress address;
        if (tcp)
        {
            int port = FreePort();
            args.AddRange(["-i", "127.0.0.1", "-p", port.ToString()]);
            address = new NbdServerAddress(new IPEndPoint(IPAddress.Loopback, port), "");
        }
        else
        {
            string socket = Path.Combine(socketDirectory, $"nbdkit-{Guid.NewGuid().ToString("N")[..8]}.sock");
            args.AddRange(["-U", socket]);
            address = new NbdServerAddress(new UnixDomainSocketEndPoint(socket), "");
        }
        args.AddRange(pluginAndArguments);
        return StartAsync(new ExternalNbdServer("nbdkit", args, address));
    }

    /// <summary>
    /// qemu-nbd serving <paramref name="image"/> in <paramref name="format"/> on a Unix socket as export
    /// <paramref name="exportName"/>, write-through: a write is durable when acknowledged, so killing
    /// the server loses no acknowledged write (with writeback, unflushed writes die with the process).
    /// </summary>
    public static Task<ExternalNbdServer> QemuNbdAsync(string socketDirectory, string image, string format, string exportName)
    {
        string socket = Path.Combine(socketDirectory, "qemu-nbd.sock");
        var args = new List<string> { "-f", format, "-k", socket, "-x", exportName, "--persistent", "--shared=8", "--cache=writethrough", image };
        return StartAsync(new ExternalNbdServer("qemu-nbd", args, new NbdServerAddress(new UnixDomainSocketEndPoint(socket), exportName)));
    }

    private static async Task<ExternalNbdServer> StartAsync(ExternalNbdServer server)
    {
        await server.StartAsync();
        return server;
    }

    /// <summary>
    /// Starts the server and waits until it accepts connections and is still there 200 ms later.
    /// A server that ends at once, before any test byte, is started again, up to three times: on
    /// this machine a freshly started nbdkit sometimes gets a stray SIGTERM (source not found; PIDs
    /// wrap at 32768 here). Caught after nbdkit installed its handler, it shuts down cleanly (exit
    /// 0); caught before, it dies of the signal (exit 143). Either way it is not a client problem.
    /// </summary>
    private const int SigTermExit = 128 + 15;

    public async Task StartAsync()
    {
        for (int attempt = 1; ; attempt++)
        {
            var process = await StartOnceAsync();
            await Task.Delay(200);
            if (!process.HasExited) return;
            if (process.ExitCode is not (0 or SigTermExit) || attempt == 3)
                throw new InvalidOperationException($"{_file} {string.Join(' ', _arguments)} exited with {process.ExitCode}: {Stderr}");
            lock (_stderr) _stderr.Clear();
        }
    }

    private async Task<Process> StartOnceAsync()
    {
        if (Address.EndPoint is UnixDomainSocketEndPoint unix && File.Exists(unix.ToString())) File.Delete(unix.ToString());
        // setsid: the server gets a session of its own, so no signal meant for the test host's
        // process group reaches it. setsid execs, so the PID is the server's.
        var psi = new ProcessStartInfo("setsid") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add(_file);
        foreach (var a in _arguments) psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {_file}.");
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        process.OutputDataReceived += (_, e) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < until)
        {
            if (process.HasExited) return process;
            if (await CanConnectAsync()) return process;
            await Task.Delay(20);
        }
        throw new TimeoutException($"{_file} did not listen on {Address} within 15 s: {Stderr}");
    }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Kills the server (SIGKILL, by PID) and waits for it to be gone.</summary>
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

    private async Task<bool> CanConnectAsync()
    {
        var endPoint = Address.EndPoint;
        using var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint).WaitAsync(TimeSpan.FromSeconds(1));
            return true;
        }
        catch (Exception) { return false; }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync() => await KillAsync();
}
