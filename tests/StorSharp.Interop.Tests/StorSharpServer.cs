using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace StorSharp.Interop.Tests;

/// <summary>
/// The real <c>storsharp</c> binary run as a separate process. Disposing kills it (if it still
/// runs) and waits, bounded, for it to go.
/// </summary>
internal sealed partial class StorSharpServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TempFolder _folder = new();

    private StorSharpServer(Process process, int iscsiPort, int nbdPort)
    {
        _process = process;
        IscsiPort = iscsiPort;
        NbdPort = nbdPort;
    }

    /// <summary>The JSON-lines event log the server appends to (in the server's temporary folder).</summary>
    public string EventLogPath { get; private init; } = "";

    public int IscsiPort { get; }
    public int NbdPort { get; }
    public Process Process => _process;
    public string Output { get { lock (_stdout) return _stdout.ToString(); } }
    public string Error { get { lock (_stderr) return _stderr.ToString(); } }
    public string IscsiUrl(string iqn = "iqn.2026-11.io.storsharp:disk0", int lun = 0) => $"iscsi://127.0.0.1:{IscsiPort}/{iqn}/{lun}";
    public string NbdUrl(string export = "disk0") => $"nbd://127.0.0.1:{NbdPort}/{export}";

    /// <summary>Starts <c>storsharp serve</c> on free ports with <paramref name="extra"/> options and waits until both listen.</summary>
    public static async Task<StorSharpServer> StartAsync(bool iscsi = true, bool nbd = true, params string[] extra)
    {
        var iscsiPort = iscsi ? Cli.FreePort() : 0;
        var nbdPort = nbd ? Cli.FreePort() : 0;
        var folder = new TempFolder();
        string[] args =
        [
            "serve",
            "--iscsi", iscsi ? $"127.0.0.1:{iscsiPort}" : "off",
            "--nbd", nbd ? $"127.0.0.1:{nbdPort}" : "off",
            "--event-log", Path.Combine(folder.Path, "events.jsonl"),
            .. extra,
        ];
        var process = Cli.Start(args);
        var server = new StorSharpServer(process, iscsiPort, nbdPort) { EventLogPath = Path.Combine(folder.Path, "events.jsonl") };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (server._stdout) server._stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (server._stderr) server._stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            foreach (var port in new[] { iscsiPort, nbdPort }.Where(p => p != 0))
                while (!await Listening(port))
                {
                    if (process.HasExited) throw new InvalidOperationException($"storsharp exited with {process.ExitCode} before listening:\n{server.Output}\n{server.Error}");
                    if (DateTime.UtcNow > deadline) throw new TimeoutException($"storsharp did not listen on {port} within 60 s:\n{server.Output}\n{server.Error}");
                    await Task.Delay(100);
                }
            // The banner is printed after the listeners start.
            for (var i = 0; i < 100 && !server.Output.Contains("to stop", StringComparison.Ordinal); i++) await Task.Delay(50);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public static async Task<bool> Listening(int port)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Sends a POSIX signal (SIGTERM 15, SIGINT 2) to the server.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0) throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Waits, bounded, for the process to exit; returns its exit code or null on timeout.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            _process.WaitForExit(); // drains the redirected output
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await WaitForExitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
        _folder.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>A temporary folder removed at dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "storsharp-interop-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
