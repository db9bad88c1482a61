using System.Text.RegularExpressions;
using StorSharp.Cli;
using StorSharp.Host.Configuration;
using StorSharp.Port;

namespace StorSharp.Host.Tests;

public sealed partial class CliTests
{
    private static async Task<(int Code, string Out, string Err)> Run(params string[] args) => await RunWith(null, default, args);

    private static async Task<(int Code, string Out, string Err)> RunWith(HostComponents? components, CancellationToken token, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await StorSharpCommandLine.RunAsync(args, output, error, components, token);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Help_lists_the_commands()
    {
        var (code, output, _) = await Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("[command] [options]", output);
        foreach (var command in new[] { "version", "serve", "events" }) Assert.Matches($@"(?m)^\s+{command}\s", output);
    }

    [Fact]
    public async Task No_arguments_shows_help()
    {
        var (code, output, _) = await Run();
        Assert.Equal(0, code);
        Assert.Contains("Commands:", output);
    }

    [Fact]
    public async Task Version_prints_version_runtime_and_commit()
    {
        var (code, output, _) = await Run("version");
        Assert.Equal(0, code);
        var lines = output.TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^storsharp \d+\.\d+\.\d+", lines[0]);
        Assert.StartsWith("runtime .NET 10", lines[1]);
        Assert.StartsWith("commit ", lines[2]);
    }

    [Fact]
    public async Task Serve_help_lists_every_option()
    {
        var (code, output, _) = await Run("serve", "--help");
        Assert.Equal(0, code);
        foreach (var option in new[] { "--config", "--iscsi", "--nbd", "--receive-poll", "--size", "--block-size", "--file", "--read-only", "--event-log", "--nbd-stdio" })
            Assert.Contains(option, output);
    }

    [Theory]
    [InlineData(new[] { "serve", "--bogus" }, "--bogus")]
    [InlineData(new[] { "serve", "--block-size", "1024" }, "--block-size: 1024 is not supported; use 512 or 4096")]
    [InlineData(new[] { "serve", "--block-size", "big" }, "big")]
    [InlineData(new[] { "serve", "--size", "huge" }, "--size: 'huge' is not a size")]
    [InlineData(new[] { "serve", "--size", "1000", "--block-size", "4096" }, "--size: 1000 bytes is not a whole number of 4096-byte blocks")]
    [InlineData(new[] { "serve", "--iscsi", "nowhere:1" }, "--iscsi: 'nowhere' is not an IP address")]
    [InlineData(new[] { "serve", "--nbd", "127.0.0.1:99999" }, "--nbd: '99999' is not a TCP port")]
    [InlineData(new[] { "serve", "--receive-poll", "fast" }, "--receive-poll: 'fast' is not a duration")]
    [InlineData(new[] { "serve", "--receive-poll", "20ms" }, "--receive-poll: 20ms is too long")]
    [InlineData(new[] { "serve", "--iscsi", "off", "--nbd", "off" }, "nothing to serve")]
    [InlineData(new[] { "serve", "--iscsi", "127.0.0.1:4000", "--nbd", "127.0.0.1:4000" }, "--nbd: 127.0.0.1:4000 is also iscsi.portals[0]")]
    [InlineData(new[] { "serve", "--config", "/nonexistent/s.yaml" }, "/nonexistent/s.yaml: cannot read the configuration: the file does not exist")]
    [InlineData(new[] { "serve", "--file", "/nonexistent-dir/x.img" }, "--file: the folder /nonexistent-dir does not exist")]
    [InlineData(new[] { "frobnicate" }, "frobnicate")]
    public async Task Usage_and_configuration_errors_exit_2_naming_the_problem(string[] args, string expected)
    {
        var (code, output, error) = await Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.StartsWith("storsharp: ", error);
        Assert.DoesNotContain("Press Ctrl+C", output);
    }

    [Fact]
    public async Task Disk_options_cannot_be_combined_with_a_config_file()
    {
        using var dir = new TempDir();
        var path = dir.File("s.yaml", "targets: [ { iqn: 'iqn.2026-11.io.storsharp:x' } ]\nluns: [ { size: 1M } ]\nnbd: off\n");
        var (code, _, error) = await Run("serve", "--config", path, "--size", "2G");
        Assert.Equal(2, code);
        Assert.Contains("--size: shapes the default disk and cannot be combined with --config", error);
    }

    [Fact]
    public async Task Bad_config_file_exits_2_with_line_and_field()
    {
        using var dir = new TempDir();
        var path = dir.File("storsharp.yaml", "targets: [ { iqn: 'iqn.2026-11.io.storsharp:x' } ]\nluns:\n  - size: 1M\n    blockSize: 1024\nnbd: off\n");
        var (code, _, error) = await Run("serve", "--config", path);
        Assert.Equal(2, code);
        Assert.Contains($"{path} line 4: luns[0].blockSize: 1024 is not supported; use 512 or 4096", error);
    }

    [Fact]
    public async Task Serve_runs_until_cancelled_and_exits_0()
    {
        var fakes = new FakeComponents();
        using var cts = new CancellationTokenSource();
        var run = RunWith(fakes.Build(), cts.Token, "serve", "--iscsi", "127.0.0.1:0", "--nbd", "127.0.0.1:0", "--event-log", "off", "--size", "64M");
        for (var i = 0; i < 100 && !fakes.Journal.Contains("start NBD"); i++) await Task.Delay(50);
        Assert.Contains("start NBD", fakes.Journal);
        cts.Cancel();
        var (code, output, error) = await run.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(code == 0, error);
        Assert.Contains("64 MiB sparse RAM disk", output);
        Assert.Contains("nbdinfo nbd://127.0.0.1:", output);
        Assert.Contains("Stopped.", output);
        Assert.Contains("stop adapter", fakes.Journal);
    }

    [Fact]
    public async Task Serve_with_a_file_creates_the_lun_from_it()
    {
        using var dir = new TempDir();
        var fakes = new FakeComponents();
        using var cts = new CancellationTokenSource();
        var image = dir.File("disk.img");
        var run = RunWith(fakes.Build(), cts.Token, "serve", "--iscsi", "127.0.0.1:0", "--nbd", "off", "--event-log", "off", "--file", image, "--size", "8M", "--block-size", "4096", "--read-only");
        for (var i = 0; i < 100 && !run.IsCompleted && !fakes.Journal.Contains("start iSCSI"); i++) await Task.Delay(50);
        cts.Cancel();
        var (code, _, error) = await run.WaitAsync(TimeSpan.FromSeconds(20));
        // A read-only LUN cannot create its file: that is a usage error, found before anything starts.
        Assert.Equal(2, code);
        Assert.Contains("--read-only", error);

        File.WriteAllBytes(image, new byte[8192]);
        using var cts2 = new CancellationTokenSource();
        run = RunWith(fakes.Build(), cts2.Token, "serve", "--iscsi", "127.0.0.1:0", "--nbd", "off", "--event-log", "off", "--file", image, "--read-only");
        for (var i = 0; i < 100 && fakes.Luns.Count == 0; i++) await Task.Delay(50);
        cts2.Cancel();
        (code, _, error) = await run.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(code == 0, error);
        var lun = Assert.Single(fakes.Luns).Settings;
        Assert.Equal(LunBackend.File, lun.Backend);
        Assert.Equal(image, lun.Path);
        Assert.True(lun.ReadOnly);
        Assert.Null(lun.SizeBytes);
    }

    [Fact]
    public async Task Runtime_failure_exits_1()
    {
        using var busy = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start();
        var port = ((System.Net.IPEndPoint)busy.LocalEndpoint).Port;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (code, _, error) = await RunWith(new FakeComponents().Build(), cts.Token, "serve", "--iscsi", $"127.0.0.1:{port}", "--nbd", "off", "--event-log", "off");
        Assert.Equal(1, code);
        Assert.Contains($"iSCSI cannot listen on 127.0.0.1:{port}: the address is already in use", error);
    }

    [Fact]
    public async Task Events_prints_the_log_readably()
    {
        using var dir = new TempDir();
        var path = dir.File("events.jsonl");
        using (var log = new EventLog(path))
        {
            log.Write(new StorageEvent(129, DateTimeOffset.UtcNow, EventLevel.Warning, "ScsiDisk", @"\Device\RaidPort0", @"Reset to device, \Device\RaidPort0, was issued.", new Dictionary<string, string> { ["address"] = "0:0:0" }));
            log.Write(new StorageEvent(1020, DateTimeOffset.UtcNow, EventLevel.Information, "ScsiDisk", @"\Device\RaidPort0", "Link down", new Dictionary<string, string>()));
        }
        var (code, output, _) = await Run("events", "--file", path);
        Assert.Equal(0, code);
        var lines = output.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains("Warning", lines[0]);
        Assert.Contains(" 129 ScsiDisk", lines[0]);
        Assert.Contains("was issued.  [address=0:0:0]", lines[0]);

        (code, output, _) = await Run("events", "--file", path, "--last", "1");
        Assert.Equal(0, code);
        Assert.Contains("Link down", output);
        Assert.DoesNotContain("Reset", output);

        var (missing, _, error) = await Run("events", "--file", dir.File("none.jsonl"));
        Assert.Equal(1, missing);
        Assert.Contains("does not exist", error);
    }

    [Fact]
    public async Task Events_takes_the_path_from_a_config_file()
    {
        using var dir = new TempDir();
        var log = dir.File("ev.jsonl");
        using (var l = new EventLog(log)) l.Write(new StorageEvent(1030, DateTimeOffset.UtcNow, EventLevel.Information, "ScsiDisk", "", "LUN added", new Dictionary<string, string>()));
        var config = dir.File("s.yaml", "eventLog: ev.jsonl\ntargets: [ { iqn: 'iqn.2026-11.io.storsharp:x' } ]\nluns: [ { size: 1M } ]\nnbd: off\n");
        var (code, output, _) = await Run("events", "--config", config);
        Assert.Equal(0, code);
        Assert.Contains("LUN added", output);
    }

    /// <summary>The README's CLI reference and <c>--help</c> list the same options for every command.</summary>
    [Fact]
    public async Task Readme_cli_reference_matches_help()
    {
        var readme = await File.ReadAllTextAsync(Repo.PathOf("README.md"));
        var start = readme.IndexOf("\n## CLI reference", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## CLI reference' section");
        var end = readme.IndexOf("\n## ", start + 5, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];
        var root = StorSharpCommandLine.Build();
        foreach (var command in root.Subcommands)
        {
            var heading = Regex.Match(section, $@"(?ms)^### `storsharp {command.Name}\b.*?(?=^### |\z)");
            Assert.True(heading.Success, $"README's CLI reference has no '### `storsharp {command.Name}' entry");
            // The command's options and those of its subcommands (storsharp lun add --backend ...).
            var inHelp = new HashSet<string>();
            foreach (var path in CommandPaths(command, [command.Name]))
            {
                var (_, help, _) = await Run([.. path, "--help"]);
                inHelp.UnionWith(OptionNames(help));
            }
            var inReadme = OptionNames(heading.Value);
            Assert.True(inHelp.SetEquals(inReadme), $"storsharp {command.Name}: --help lists [{string.Join(' ', inHelp.Order())}], README lists [{string.Join(' ', inReadme.Order())}]");
        }
        var commandsInReadme = Regex.Matches(section, @"(?m)^### `storsharp ([\w-]+)").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.True(commandsInReadme.SetEquals(root.Subcommands.Select(c => c.Name)), "README documents commands " + string.Join(", ", commandsInReadme));
    }

    private static IEnumerable<string[]> CommandPaths(System.CommandLine.Command command, string[] path)
    {
        yield return path;
        foreach (var sub in command.Subcommands)
            foreach (var p in CommandPaths(sub, [.. path, sub.Name])) yield return p;
    }

    private static HashSet<string> OptionNames(string text) =>
        [.. OptionRegex().Matches(text).Select(m => m.Value).Where(o => o is not "--help" and not "--version")];

    [GeneratedRegex(@"(?<![\w-])--[a-z][a-z-]*[a-z]")]
    private static partial Regex OptionRegex();
}
