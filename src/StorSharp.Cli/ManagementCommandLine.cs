using System.CommandLine;
using StorSharp.Host;
using StorSharp.Host.Management;

namespace StorSharp.Cli;

/// <summary>
/// The subcommands that talk to a running server through its management API: <c>luns</c>,
/// <c>adapters</c>, <c>fault</c>, <c>pause</c>, <c>resume</c>, <c>queue-depth</c>, <c>lun</c>. Each finds the
/// server in the state file it wrote (or takes <c>--url</c> and <c>--token</c>).
/// </summary>
internal static class ManagementCommandLine
{
    /// <summary>The options every management subcommand takes.</summary>
    public static (Option<string> Url, Option<string> Token, Option<string> State) EndpointOptions() =>
    (
        new Option<string>("--url") { Description = "The management API's URL. Default: from the state file.", HelpName = "URL" },
        new Option<string>("--token") { Description = "The management API's token. Default: from the state file.", HelpName = "TOKEN" },
        new Option<string>("--state") { Description = "The state file the server wrote (its management.stateFile). Default: ~/.local/state/storsharp/management.json.", HelpName = "FILE" }
    );

    public static ManagementCommands.Endpoint EndpointOf(ParseResult parse, Option<string> url, Option<string> token, Option<string> state) =>
        new(parse.GetValue(url), parse.GetValue(token), parse.GetValue(state));

    /// <summary>
    /// A command whose subcommands all talk to the API (<c>fault</c>, <c>lun</c>, <c>media</c>): the
    /// endpoint options are given once, on it, and apply to every subcommand.
    /// </summary>
    /// <param name="name">The command's name.</param>
    /// <param name="description">Its help text.</param>
    /// <param name="endpoint">Reads the endpoint of a parsed subcommand.</param>
    public static Command GroupCommand(string name, string description, out Func<ParseResult, ManagementCommands.Endpoint> endpoint)
    {
        var (url, token, state) = EndpointOptions();
        url.Recursive = token.Recursive = state.Recursive = true;
        endpoint = parse => EndpointOf(parse, url, token, state);
        return new Command(name, description) { url, token, state };
    }

    public static IEnumerable<Command> Commands(CancellationToken cancellationToken)
    {
        yield return Luns();
        yield return Adapters();
        yield return Fault();
        yield return Simple("pause", "Pause a LUN (StorPortPauseDevice): new I/O waits in the port's queue until resume or the pause runs out.", withSeconds: true,
            (e, t, l, seconds, io) => ManagementCommands.PauseAsync(e, t, l, seconds, io.Output, io.Error));
        yield return Simple("resume", "Resume a paused LUN (StorPortResumeDevice).", withSeconds: false,
            (e, t, l, _, io) => ManagementCommands.ResumeAsync(e, t, l, io.Output, io.Error));
        yield return QueueDepth();
        yield return LunCommands.Build();
    }

    private static Command Luns()
    {
        var json = new Option<bool>("--json") { Description = "Print the API's JSON answer." };
        var (url, token, state) = EndpointOptions();
        var command = new Command("luns", "List the running server's LUNs: state, size, queue depth, outstanding I/O, counters and faults.") { json, url, token, state };
        command.SetAction(parse => ManagementCommands.ListLunsAsync(EndpointOf(parse, url, token, state), parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    private static Command Adapters()
    {
        var (url, token, state) = EndpointOptions();
        var command = new Command("adapters", "Show the running server's adapters, buses, targets and LUNs (the Storport tree).") { url, token, state };
        command.SetAction(parse => ManagementCommands.ListAdaptersAsync(EndpointOf(parse, url, token, state), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    internal static (Argument<string> Target, Argument<int> Lun) LunArguments() =>
    (
        new Argument<string>("TARGET") { Description = "The target's IQN." },
        new Argument<int>("LUN") { Description = "The LUN number." }
    );

    private static Command Fault()
    {
        var command = GroupCommand("fault", "Inject faults into a running server: fault set | clear | link-down | drop-connections (see docs/faults.md).", out var endpoint);

        var (target, lun) = LunArguments();
        var rules = new Argument<string>("RULES") { Description = "The rules as JSON, in the shape of luns[].faults: '[{\"kind\":\"stall\",\"count\":1}]'." };
        var set = new Command("set", "Replace a LUN's fault rules (delay, error, busy, queueFull, stall, timeout, commandTimeout).") { target, lun, rules };
        set.SetAction(parse => ManagementCommands.SetFaultsAsync(endpoint(parse), parse.GetValue(target)!, parse.GetValue(lun), parse.GetValue(rules)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        command.Add(set);

        var (target2, lun2) = LunArguments();
        var clear = new Command("clear", "Turn fault injection off on a LUN (stalled requests are released).") { target2, lun2 };
        clear.SetAction(parse => ManagementCommands.ClearFaultsAsync(endpoint(parse), parse.GetValue(target2)!, parse.GetValue(lun2), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        command.Add(clear);

        var seconds = new Argument<double>("SECONDS") { Description = "How long the link stays down." };
        var adapter = new Argument<int>("ADAPTER") { Description = "The adapter number (N of RaidPortN).", DefaultValueFactory = _ => 0 };
        var linkDown = new Command("link-down", "Take the adapter's link down for SECONDS (LinkDown, then LinkUp): I/O is held up to LinkDownTimeout, then fails.") { seconds, adapter };
        linkDown.SetAction(parse => ManagementCommands.LinkDownAsync(endpoint(parse), parse.GetValue(adapter), parse.GetValue(seconds), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        command.Add(linkDown);

        var (target4, lun4) = LunArguments();
        var drop = new Command("drop-connections", "Close every iSCSI and NBD connection that uses the LUN, as a network failure would.") { target4, lun4 };
        drop.SetAction(parse => ManagementCommands.DropConnectionsAsync(endpoint(parse), parse.GetValue(target4)!, parse.GetValue(lun4), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        command.Add(drop);
        return command;
    }

    private static Command Simple(string name, string description, bool withSeconds,
        Func<ManagementCommands.Endpoint, string, int, double?, InvocationConfiguration, Task<int>> run)
    {
        var (target, lun) = LunArguments();
        var (url, token, state) = EndpointOptions();
        var seconds = new Option<double?>("--seconds") { Description = "How long the pause lasts at most. Default: 3600.", HelpName = "N" };
        var command = new Command(name, description) { target, lun, url, token, state };
        if (withSeconds) command.Add(seconds);
        command.SetAction(parse => run(EndpointOf(parse, url, token, state), parse.GetValue(target)!, parse.GetValue(lun), withSeconds ? parse.GetValue(seconds) : null, parse.InvocationConfiguration));
        return command;
    }

    private static Command QueueDepth()
    {
        var (target, lun) = LunArguments();
        var depth = new Argument<int>("DEPTH") { Description = "The new queue depth, 1 to 255." };
        var (url, token, state) = EndpointOptions();
        var command = new Command("queue-depth", "Set a LUN's queue depth (StorPortSetDeviceQueueDepth, event 1050).") { target, lun, depth, url, token, state };
        command.SetAction(parse => ManagementCommands.SetQueueDepthAsync(EndpointOf(parse, url, token, state), parse.GetValue(target)!, parse.GetValue(lun), parse.GetValue(depth), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }
}
