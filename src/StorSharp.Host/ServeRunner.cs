using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using StorSharp.Diagnostics.Tracing;
using StorSharp.Host.Configuration;

namespace StorSharp.Host;

/// <summary>
/// Runs <c>storsharp serve</c>: resolves the configuration, starts the host, prints how to reach
/// it, waits for SIGINT or SIGTERM (or the token), and stops cleanly.
/// Returns the process exit code: 0 ok, 1 runtime failure, 2 usage or configuration error.
/// </summary>
public static class ServeRunner
{
    /// <summary>Exit code: served and stopped cleanly.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code: something failed at run time (a port in use, a backend that failed).</summary>
    public const int ExitFailure = 1;

    /// <summary>Exit code: the command line or the configuration is wrong.</summary>
    public const int ExitUsage = 2;

    /// <summary>How long a clean stop may take before the process gives up with exit code 1.</summary>
    public static TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Serves until a signal or <paramref name="cancellationToken"/> stops it.</summary>
    /// <param name="options">The command line's options.</param>
    /// <param name="output">Where the banner goes (standard output).</param>
    /// <param name="error">Where errors go (standard error).</param>
    /// <param name="components">The parts to compose; <see cref="HostComponents.Default"/> when null.</param>
    /// <param name="handleSignals">Stop on SIGINT / SIGTERM (true for the real process, false in tests).</param>
    /// <param name="cancellationToken">Stops the server.</param>
    public static async Task<int> RunAsync(ServeOptions options, TextWriter output, TextWriter error, HostComponents? components = null, bool handleSignals = true, CancellationToken cancellationToken = default)
    {
        // systemd socket activation (also how nbdinfo / nbdcopy run "[ CMD ]"): only in the real process.
        var activated = handleSignals && !options.NbdStdio ? SocketActivation.TakeListener() : null;
        if (activated is not null)
        {
            options = options with { SocketActivated = true };
            output = TextWriter.Null; // standard output belongs to the activator (nbdinfo prints its JSON there)
        }
        StorSharpConfiguration config;
        TraceRecorderOptions? traceOptions;
        try
        {
            config = options.Resolve();
            traceOptions = ServeTracing.ResolveOptions(options);
        }
        catch (ConfigurationException e)
        {
            await error.WriteLineAsync($"storsharp: {e.Message}").ConfigureAwait(false);
            return ExitUsage;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var signals = new List<PosixSignalRegistration>();
        if (handleSignals)
        {
            var signalled = 0;
            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true; // we exit ourselves, with 0, once stopped
                if (Interlocked.Increment(ref signalled) == 1)
                {
                    stop.Cancel();
                }
                else
                {
                    error.WriteLine("storsharp: second signal, exiting without a clean stop");
                    error.Flush();
                    Environment.Exit(ExitFailure);
                }
            }
            signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal));
            signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal));
        }
        try
        {
            StorSharpHost host;
            try
            {
                host = await StorSharpHost.StartAsync(config, components, options.NbdStdio, stop.Token, activated).ConfigureAwait(false);
            }
            catch (HostStartException e)
            {
                activated?.Dispose();
                await error.WriteLineAsync($"storsharp: {e.Message}").ConfigureAwait(false);
                return ExitFailure;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return ExitOk;
            }

            var exitCode = ExitOk;
            await using var trace = ServeTracing.Start(host, options.Trace, traceOptions, error);
            try
            {
                if (options.NbdStdio)
                {
                    // Standard output carries the protocol: nothing else may be written to it.
                    await using var stdio = new StdioStream(Console.OpenStandardInput(), Console.OpenStandardOutput());
                    try
                    {
                        await host.ServeNbdConnectionAsync(stdio, stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                    }
                }
                else
                {
                    await output.WriteAsync(DescribeHowToConnect(host)).ConfigureAwait(false);
                    await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    try
                    {
                        await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                    await output.WriteLineAsync("Stopping: closing listeners and sessions, draining and flushing...").ConfigureAwait(false);
                    await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                var disposing = host.DisposeAsync().AsTask();
                var finished = await Task.WhenAny(disposing, Task.Delay(StopTimeout, CancellationToken.None)).ConfigureAwait(false);
                if (finished != disposing)
                {
                    await error.WriteLineAsync($"storsharp: did not stop within {StopTimeout.TotalSeconds:0} s").ConfigureAwait(false);
                    exitCode = ExitFailure;
                }
                else if (disposing.Exception is { } failure)
                {
                    await error.WriteLineAsync($"storsharp: stopping failed: {failure.GetBaseException().Message}").ConfigureAwait(false);
                    exitCode = ExitFailure;
                }
            }
            if (exitCode == ExitOk && !options.NbdStdio) await output.WriteLineAsync("Stopped.").ConfigureAwait(false);
            return exitCode;
        }
        finally
        {
            foreach (var s in signals) s.Dispose();
        }
    }

    /// <summary>The banner: what is served and the exact client commands that reach it.</summary>
    public static string DescribeHowToConnect(StorSharpHost host)
    {
        var config = host.Configuration;
        var text = new StringBuilder();
        var lunWord = config.Luns.Count == 1 ? "LUN" : "LUNs";
        text.AppendLine($"StorSharp is serving {config.Luns.Count} {lunWord} (configuration: {config.SourceName}).");
        foreach (var lun in config.Luns)
        {
            var size = lun.SizeBytes ?? host.Luns.FirstOrDefault(l => l.Settings == lun)?.Device.Geometry.SizeBytes ?? 0;
            var backend = lun.Backend == LunBackend.Ram ? (lun.Thin ? "sparse RAM disk" : "RAM disk") : $"file {lun.Path}";
            var flags = lun.ReadOnly ? ", read-only" : "";
            if (lun.Backend == LunBackend.None)
            {
                text.AppendLine($"  LUN {lun.Number} of {lun.Target}: DVD drive, empty (storsharp media insert {lun.Target} {lun.Number} ISO puts a disc in)");
                continue;
            }
            var shape = lun.Device switch
            {
                LunDevice.Dvd => $"DVD drive, disc {backend}, 2048-byte sectors",
                LunDevice.Nvme => $"NVMe namespace, {backend}, {lun.BlockSize}-byte blocks",
                _ => $"{backend}, {lun.BlockSize}-byte blocks",
            };
            text.AppendLine($"  LUN {lun.Number} of {lun.Target}: {SizeParser.Format(size)} {shape}{flags}");
        }
        if (host.IscsiEndpoints.Count > 0)
        {
            text.AppendLine();
            foreach (var ep in host.IscsiEndpoints) text.AppendLine($"iSCSI portal {ep}");
            var portal = UrlHost(host.IscsiEndpoints[0]);
            text.AppendLine($"  iscsi-ls -s iscsi://{portal}");
            foreach (var lun in config.Luns)
            {
                var url = $"iscsi://{portal}/{lun.Target}/{lun.Number}";
                // READ CAPACITY(16) is not an MMC command: a DVD answers iscsi-inq instead.
                text.AppendLine(lun.Device == LunDevice.Dvd ? $"  iscsi-inq {url}" : $"  iscsi-readcapacity16 {url}");
                if (lun.Backend != LunBackend.None) text.AppendLine($"  qemu-img info {url}"); // an empty drive has nothing to show
            }
            var chap = config.Targets.FirstOrDefault(t => t.Chap is not null);
            if (chap is not null) text.AppendLine($"  (target {chap.Iqn} needs CHAP: add user%password@ before the address)");
        }
        if (host.NbdEndpoint is { } nbd)
        {
            text.AppendLine();
            text.AppendLine($"NBD server {nbd}");
            var address = UrlHost(nbd);
            foreach (var export in config.Nbd.Exports)
            {
                var url = $"nbd://{address}/{Uri.EscapeDataString(export.Name)}";
                text.AppendLine($"  nbdinfo {url}");
                text.AppendLine($"  qemu-img info {url}");
            }
        }
        text.AppendLine();
        if (host.Management is { } management)
        {
            text.AppendLine($"Management API {management.Url} (token in {config.Management.StateFile}; storsharp luns, storsharp events --follow)");
            text.AppendLine($"Dashboard {management.DashboardUrl} (metrics: {management.Url}metrics)");
        }
        text.AppendLine(config.EventLog is null ? "Events are kept in memory only." : $"Events: {config.EventLog} (storsharp events --file {config.EventLog})");
        text.AppendLine("Press Ctrl+C (or send SIGTERM) to stop.");
        return text.ToString();
    }

    /// <summary>The address as it goes in a URL: a wildcard becomes the loopback address clients can reach.</summary>
    private static string UrlHost(IPEndPoint ep)
    {
        var address = ep.Address.Equals(IPAddress.Any) ? IPAddress.Loopback : ep.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : ep.Address;
        return new IPEndPoint(address, ep.Port).ToString();
    }
}

/// <summary>systemd socket activation (sd_listen_fds): the listening socket passed as file descriptor 3.</summary>
internal static class SocketActivation
{
    private const int FirstDescriptor = 3;

    /// <summary>
    /// The socket passed to this process (LISTEN_PID is ours and LISTEN_FDS is at least 1), or null.
    /// The variables are removed so child processes do not take the socket too.
    /// </summary>
    public static System.Net.Sockets.Socket? TakeListener()
    {
        var pid = Environment.GetEnvironmentVariable("LISTEN_PID");
        var fds = Environment.GetEnvironmentVariable("LISTEN_FDS");
        if (pid is null || fds is null) return null;
        Environment.SetEnvironmentVariable("LISTEN_PID", null);
        Environment.SetEnvironmentVariable("LISTEN_FDS", null);
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);
        if (!int.TryParse(pid, out var p) || p != Environment.ProcessId || !int.TryParse(fds, out var n) || n < 1) return null;
        return new System.Net.Sockets.Socket(new System.Net.Sockets.SafeSocketHandle(FirstDescriptor, ownsHandle: true));
    }
}

/// <summary>A duplex stream over standard input (reads) and standard output (writes).</summary>
internal sealed class StdioStream(Stream input, Stream output) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => output.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => input.ReadAsync(buffer, cancellationToken);
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => input.ReadAsync(buffer, offset, count, cancellationToken);
    public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => output.WriteAsync(buffer, cancellationToken);
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => output.WriteAsync(buffer, offset, count, cancellationToken);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            input.Dispose();
            output.Dispose();
        }
        base.Dispose(disposing);
    }
}
