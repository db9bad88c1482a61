using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using StorSharp.Host;
using StorSharp.Host.Configuration;

namespace StorSharp.Cli;

/// <summary>
/// The <c>storsharp</c> command line: parses arguments and calls the host. Exit codes: 0 ok,
/// 1 runtime failure, 2 usage or configuration error (the message on standard error names the problem).
/// </summary>
public static class StorSharpCommandLine
{
    /// <summary>Parses <paramref name="args"/>, runs the command, and returns the exit code.</summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <param name="components">The parts <c>serve</c> composes; the real ones when null (tests pass fakes).</param>
    /// <param name="cancellationToken">Stops <c>serve</c> (in-process tests); signals stop it otherwise.</param>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, HostComponents? components = null, CancellationToken cancellationToken = default)
    {
        var root = Build(components, handleSignals: !cancellationToken.CanBeCanceled, cancellationToken);
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var e in result.Errors) await error.WriteLineAsync($"storsharp: {e.Message}").ConfigureAwait(false);
            await error.WriteLineAsync("Run 'storsharp --help' for the commands and options.").ConfigureAwait(false);
            return ServeRunner.ExitUsage;
        }
        // ProcessTerminationTimeout = null: serve handles SIGINT / SIGTERM itself, so it can stop cleanly and exit 0.
        return await result.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Builds the command tree (also used by tests to compare <c>--help</c> with the README).</summary>
    public static RootCommand Build(HostComponents? components = null, bool handleSignals = true, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("StorSharp: a user-mode Storport port/miniport stack serving virtual disks over iSCSI and NBD.");
        root.SetAction(parse =>
        {
            // No command: show what there is.
            new System.CommandLine.Help.HelpAction().Invoke(parse);
            return ServeRunner.ExitOk;
        });
        root.Add(VersionCommand());
        root.Add(ServeCommand(components, handleSignals, cancellationToken));
        root.Add(EventsCommand(cancellationToken));
        root.Add(TraceCommand.Create());
        foreach (var command in ManagementCommandLine.Commands(cancellationToken)) root.Add(command);
        root.Add(MediaCommandLine.Create());
        return root;
    }

    private static Command VersionCommand()
    {
        var command = new Command("version", "Print the version, the .NET runtime and the git commit it was built from.");
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            foreach (var line in VersionLines()) output.WriteLine(line);
            return ServeRunner.ExitOk;
        });
        return command;
    }

    /// <summary>The lines <c>storsharp version</c> prints.</summary>
    public static IReadOnlyList<string> VersionLines()
    {
        var assembly = typeof(StorSharpCommandLine).Assembly;
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+');
        var version = plus < 0 ? informational : informational[..plus];
        var commit = plus < 0 ? null : informational[(plus + 1)..];
        return
        [
            $"storsharp {version}",
            $"runtime {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})",
            $"commit {(string.IsNullOrEmpty(commit) ? "unknown (built outside a git checkout)" : commit)}",
        ];
    }

    private static Command ServeCommand(HostComponents? components, bool handleSignals, CancellationToken cancellationToken)
    {
        var config = new Option<string>("--config") { Description = "A YAML or JSON configuration file (see examples/storsharp.yaml). Without it: one 1 GiB sparse RAM disk.", HelpName = "FILE" };
        var iscsi = new Option<string>("--iscsi") { Description = "The iSCSI portal to listen on, or off. Default: 127.0.0.1:3260.", HelpName = "ADDR:PORT|off" };
        var nbd = new Option<string>("--nbd") { Description = "The NBD address to listen on, or off. Default: 127.0.0.1:10809.", HelpName = "ADDR:PORT|off" };
        var receivePoll = new Option<string>("--receive-poll") { Description = "How long a busy connection from a client at queue depth 1 polls for its next request before it sleeps (trades CPU for latency), or off. Default: 50us.", HelpName = "DURATION|off" };
        var size = new Option<string>("--size") { Description = "Size of the default disk: bytes, or with K, M, G, T (binary). Default: 1G.", HelpName = "SIZE" };
        var blockSize = new Option<int?>("--block-size") { Description = "Logical block size of the default disk: 512 or 4096. Default: 512.", HelpName = "512|4096" };
        var file = new Option<string>("--file") { Description = "Back the default disk with this file; a missing file is created sparse with --size.", HelpName = "PATH" };
        var readOnly = new Option<bool>("--read-only") { Description = "Serve the default disk write-protected." };
        var eventLog = new Option<string>("--event-log") { Description = "Append events (JSON lines) to this file, or off. Default: ~/.local/state/storsharp/events.jsonl.", HelpName = "FILE|off" };
        var management = new Option<string>("--management") { Description = "Where the management API listens (loopback), or off. Default: 127.0.0.1 on a free port, written with the token to ~/.local/state/storsharp/management.json.", HelpName = "ADDR:PORT|off" };
        var nbdStdio = new Option<bool>("--nbd-stdio") { Description = "Serve one NBD connection on standard input/output and exit, with no listeners (for clients that run the server as a command on a pipe, like libnbd's connect_command)." };
        var trace = new Option<string>("--trace") { Description = "Record a trace of every request and port event into FILE (read it with 'storsharp trace report FILE').", HelpName = "FILE" };
        var traceMaxSize = new Option<string>("--trace-max-size") { Description = "The most bytes the trace may hold; later requests are dropped and counted. Default: 512M.", HelpName = "SIZE" };
        var command = new Command("serve", "Serve virtual disks over iSCSI and NBD until SIGINT or SIGTERM.")
        {
            config, iscsi, nbd, receivePoll, size, blockSize, file, readOnly, eventLog, management, nbdStdio, trace, traceMaxSize,
        };
        command.SetAction(async (parse, token) =>
        {
            var options = new ServeOptions
            {
                ConfigPath = parse.GetValue(config),
                Iscsi = parse.GetValue(iscsi),
                Nbd = parse.GetValue(nbd),
                ReceivePoll = parse.GetValue(receivePoll),
                Size = parse.GetValue(size),
                BlockSize = parse.GetValue(blockSize),
                File = parse.GetValue(file),
                ReadOnly = parse.GetValue(readOnly),
                EventLog = parse.GetValue(eventLog),
                NbdStdio = parse.GetValue(nbdStdio),
                Management = parse.GetValue(management),
                Trace = parse.GetValue(trace),
                TraceMaxSize = parse.GetValue(traceMaxSize),
            };
            var io = parse.InvocationConfiguration;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, cancellationToken);
            return await ServeRunner.RunAsync(options, io.Output, io.Error, components, handleSignals, linked.Token).ConfigureAwait(false);
        });
        return command;
    }

    private static Command EventsCommand(CancellationToken cancellationToken)
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Print the running server's events so far, then each new one as it happens (through the management API), until Ctrl+C." };
        var (url, token, state) = ManagementCommandLine.EndpointOptions();
        var file = new Option<string>("--file") { Description = "The JSON-lines event log to print. Default: the --config file's eventLog, else ~/.local/state/storsharp/events.jsonl.", HelpName = "FILE" };
        var config = new Option<string>("--config") { Description = "Take the event log path from this configuration file.", HelpName = "FILE" };
        var last = new Option<int?>("--last") { Description = "Print only the newest N events.", HelpName = "N" };
        var command = new Command("events", "Print the event log (resets, retries, link and LUN events) readably.") { file, config, last, follow, url, token, state };
        command.SetAction(async (parse, stop) =>
        {
            var io = parse.InvocationConfiguration;
            if (parse.GetValue(follow))
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, cancellationToken);
                return await Host.Management.ManagementCommands.FollowEventsAsync(ManagementCommandLine.EndpointOf(parse, url, token, state), parse.GetValue(last), io.Output, io.Error, linked.Token).ConfigureAwait(false);
            }
            var path = parse.GetValue(file);
            if (path is null && parse.GetValue(config) is { } configPath)
            {
                try
                {
                    path = ConfigurationLoader.Load(configPath).EventLog;
                }
                catch (ConfigurationException e)
                {
                    io.Error.WriteLine($"storsharp: {e.Message}");
                    return ServeRunner.ExitUsage;
                }
                if (path is null)
                {
                    io.Error.WriteLine($"storsharp: {configPath} keeps events in memory only (eventLog: off); there is no file to print");
                    return ServeRunner.ExitUsage;
                }
            }
            if (parse.GetValue(last) is < 1)
            {
                io.Error.WriteLine("storsharp: --last must be at least 1");
                return ServeRunner.ExitUsage;
            }
            return EventsPrinter.Print(path ?? StorSharpConfiguration.DefaultEventLogPath(), parse.GetValue(last), io.Output, io.Error);
        });
        return command;
    }
}
