using System.Diagnostics;
using StorSharp.Host.Management;
using StorSharp.Port;

namespace StorSharp.Interop.Tests;

/// <summary>
/// The Storport fault model end to end: the real storsharp process with fault rules, driven by
/// real initiators (qemu-io over iSCSI and NBD, libiscsi's iscsi-test-cu). Every configuration
/// uses short timeouts so each test is bounded; each asserts the events logged, what the client
/// saw, and that the data written reads back.
/// </summary>
public sealed class FaultScenarioTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private const string Iqn = "iqn.2026-11.io.storsharp:disk0";

    private static string Config(TempFolder folder, string faults = "[]", string linkDownTimeout = "30s") =>
        File.WriteAllTextAsync(Path.Combine(folder.Path, "storsharp.yaml"), $"""
            port:
              heartbeatInterval: 100ms
              tunables:
                defaultTimeout: 2
                busyPause: 50ms
                linkDownTimeout: {linkDownTimeout}
                resetTimeout: 2s
                classRetryInterval: 100ms
            management:
              listen: 127.0.0.1:0
              stateFile: {Path.Combine(folder.Path, "management.json")}
            targets:
              - iqn: {Iqn}
            luns:
              - size: 64M
                faults: {faults}
            nbd:
              exports:
                - name: disk0
            """).ContinueWith(_ => Path.Combine(folder.Path, "storsharp.yaml")).Result;

    private static Task<ToolResult> QemuIo(string url, params string[] commands) =>
        Cli.Run("qemu-io", ["-f", "raw", .. commands.SelectMany(c => new[] { "-c", c }), url], Bound);

    private static IReadOnlyList<StorageEvent> Events(StorSharpServer server, int id) =>
        [.. StorSharp.Port.EventLog.ReadFile(server.EventLogPath).Where(e => e.Id == id)];

    private static void AssertOk(ToolResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("failed", result.Output + result.Error, StringComparison.OrdinalIgnoreCase);
    }

    [InteropFact("qemu-io")]
    public async Task A_stall_longer_than_the_lu_timeout_logs_129_resets_the_lu_and_the_retry_succeeds_over_nbd()
    {
        using var folder = new TempFolder();
        var config = Config(folder, "[ { kind: stall, operations: write, count: 1 } ]");
        await using var server = await StorSharpServer.StartAsync(iscsi: false, nbd: true, "--config", config);
        var clock = Stopwatch.StartNew();
        var result = await QemuIo(server.NbdUrl(), "write -P 0x5a 0 256k", "read -P 0x5a 0 256k");
        AssertOk(result);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.9), $"the write should have waited for the 2 s LU timeout; took {clock.Elapsed}");
        var e129 = Assert.Single(Events(server, StorageEventIds.ResetToDevice));
        Assert.Equal(@"Reset to device, \Device\RaidPort0, was issued.", e129.Message);
        Assert.Equal("0:0:0", e129.Data["Address"]);
        Assert.Equal("2", e129.Data["TimeOutValue"]);
        Assert.Single(Events(server, StorageEventIds.LunReset));
        Assert.Empty(Events(server, StorageEventIds.ResetFailed));
    }

    [InteropFact("qemu-io")]
    public async Task A_stall_over_iscsi_ends_in_an_lu_reset_the_initiator_sees_and_recovers_from()
    {
        using var folder = new TempFolder();
        var config = Config(folder, "[ { kind: stall, operations: write, count: 1 } ]");
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);
        var result = await QemuIo(server.IscsiUrl(), "write -P 0x3c 0 64k", "write -P 0x3c 0 64k", "read -P 0x3c 0 64k");
        // The first write ends with CHECK CONDITION, ABORTED COMMAND (the port's reset ended it);
        // the LU then reports BUS DEVICE RESET FUNCTION OCCURRED once; the next write and the read succeed.
        Assert.Single(Events(server, StorageEventIds.ResetToDevice));
        Assert.Single(Events(server, StorageEventIds.LunReset));
        Assert.Contains("read 65536/65536 bytes", result.Output);
        Assert.DoesNotContain("Pattern verification failed", result.Output);
        var written = result.Output.Split('\n').Count(l => l.StartsWith("wrote 65536/65536", StringComparison.Ordinal));
        Assert.True(written >= 1, result.ToString());
    }

    [InteropFact("qemu-io")]
    public async Task A_miniport_timeout_logs_153_and_the_class_layer_retries_it_transparently()
    {
        using var folder = new TempFolder();
        var config = Config(folder, "[ { kind: timeout, operations: write, count: 1 }, { kind: commandTimeout, operations: read, count: 1 } ]");
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);
        var result = await QemuIo(server.IscsiUrl(), "write -P 0x77 4096 128k", "read -P 0x77 4096 128k");
        AssertOk(result);
        var retried = Events(server, StorageEventIds.IoRetried);
        Assert.Equal(2, retried.Count);
        Assert.All(retried, e => Assert.Equal("disk", e.Source));
        Assert.Contains(retried, e => e.Data["SrbStatus"] == "0x09" && e.Data["Opcode"] == "0x2A");
        Assert.Contains(retried, e => e.Data["SrbStatus"] == "0x0B" && e.Data["Opcode"] == "0x28");
        Assert.Empty(Events(server, StorageEventIds.ResetToDevice)); // 153, not 129: no reset
    }

    [InteropFact("qemu-io")]
    public async Task Busy_and_queue_full_are_retried_by_the_port_and_the_initiator_sees_only_latency()
    {
        using var folder = new TempFolder();
        var config = Config(folder, "[ { kind: busy, count: 5 }, { kind: queueFull, count: 5 } ]");
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);
        var result = await QemuIo(server.IscsiUrl(), "write -P 0x11 0 64k", "read -P 0x11 0 64k", "write -P 0x22 1M 64k", "read -P 0x22 1M 64k");
        AssertOk(result);
        using var client = ManagementClient.Locate(null, null, Path.Combine(folder.Path, "management.json"));
        var lun = (await client.SendAsync(HttpMethod.Get, "v1/luns")).GetProperty("luns")[0];
        var counters = lun.GetProperty("counters");
        Assert.Equal(5, counters.GetProperty("busyRetries").GetInt64());
        Assert.Equal(5, counters.GetProperty("queueFullRetries").GetInt64());
    }

    [InteropFact("qemu-io")]
    public async Task Link_down_shorter_than_link_down_timeout_holds_io_then_completes_it()
    {
        using var folder = new TempFolder();
        var config = Config(folder, linkDownTimeout: "5s");
        await using var server = await StorSharpServer.StartAsync(iscsi: false, nbd: true, "--config", config);
        var state = Path.Combine(folder.Path, "management.json");
        var down = await Cli.RunStorSharp(Bound, "fault", "link-down", "1.5", "--state", state);
        Assert.True(down.ExitCode == 0, down.ToString());
        var clock = Stopwatch.StartNew();
        var result = await QemuIo(server.NbdUrl(), "write -P 0x66 0 64k", "read -P 0x66 0 64k");
        AssertOk(result);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.5), $"I/O should have been held while the link was down; took {clock.Elapsed}");
        Assert.Single(Events(server, StorageEventIds.LinkDown));
        Assert.Single(Events(server, StorageEventIds.LinkUp));
        Assert.Empty(Events(server, StorageEventIds.LinkDownTimeout));
    }

    [InteropFact("qemu-io")]
    public async Task Link_down_longer_than_link_down_timeout_fails_io_cleanly_and_it_works_again_after_link_up()
    {
        using var folder = new TempFolder();
        var config = Config(folder, linkDownTimeout: "1s");
        await using var server = await StorSharpServer.StartAsync(iscsi: false, nbd: true, "--config", config);
        var before = await QemuIo(server.NbdUrl(), "write -P 0x44 0 64k");
        AssertOk(before);
        var state = Path.Combine(folder.Path, "management.json");
        var down = await Cli.RunStorSharp(Bound, "fault", "link-down", "4", "--state", state);
        Assert.True(down.ExitCode == 0, down.ToString());
        var during = await QemuIo(server.NbdUrl(), "write -P 0x99 0 64k");
        Assert.Contains("write failed", during.Output + during.Error);
        var timeout = Assert.Single(Events(server, StorageEventIds.LinkDownTimeout));
        Assert.True(int.Parse(timeout.Data["FailedRequests"]) >= 1, timeout.Message);
        // Wait for LinkUp (4 s after the fault), then the data from before the fault is intact.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Events(server, StorageEventIds.LinkUp).Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Single(Events(server, StorageEventIds.LinkUp));
        var after = await QemuIo(server.NbdUrl(), "read -P 0x44 0 64k");
        AssertOk(after);
        using var client = ManagementClient.Locate(null, null, state);
        var lun = (await client.SendAsync(HttpMethod.Get, "v1/luns")).GetProperty("luns")[0];
        Assert.Equal(0, lun.GetProperty("outstanding").GetInt32());
        Assert.Equal(0, lun.GetProperty("pending").GetInt32());
    }

    [InteropFact("fio")]
    public async Task A_long_fio_over_nbd_rides_through_every_recoverable_fault_and_verifies_every_write()
    {
        using var folder = new TempFolder();
        // Every recoverable fault at once: random delays, BUSY, QUEUE FULL, a stall the LU timer
        // resets (129), miniport timeouts the class layer retries (153), and a link down shorter than
        // LinkDownTimeout in the middle of the run.
        var config = Config(folder, "[ { kind: delay, operations: media, delay: 1ms..5ms, rate: 0.1 }, "
            + "{ kind: busy, operations: write, count: 20 }, { kind: queueFull, operations: write, count: 20 }, "
            + "{ kind: stall, operations: write, count: 1 }, { kind: timeout, operations: read, count: 3 } ]", linkDownTimeout: "5s");
        await using var server = await StorSharpServer.StartAsync(iscsi: false, nbd: true, "--config", config);
        var state = Path.Combine(folder.Path, "management.json");
        // Two jobs (two connections), 16 requests in flight each, random 4 KiB writes over disjoint
        // 8 MiB regions, then every block read back and checked against its crc32c.
        var fio = Cli.Run("fio", [
            "--name=soak", "--ioengine=nbd", $"--uri={server.NbdUrl()}",
            "--rw=randwrite", "--bs=4k", "--iodepth=16", "--numjobs=2", "--size=8M", "--offset_increment=16M",
            "--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--group_reporting"], Bound);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var down = await Cli.RunStorSharp(Bound, "fault", "link-down", "1", "--state", state);
        Assert.True(down.ExitCode == 0, down.ToString());
        var result = await fio;
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("err= 0", result.Output);
        Assert.DoesNotContain("verify: bad", result.Output + result.Error);

        Assert.Single(Events(server, StorageEventIds.ResetToDevice));
        Assert.Single(Events(server, StorageEventIds.LunReset));
        Assert.Equal(3, Events(server, StorageEventIds.IoRetried).Count);
        Assert.Single(Events(server, StorageEventIds.LinkDown));
        Assert.Single(Events(server, StorageEventIds.LinkUp));
        Assert.Empty(Events(server, StorageEventIds.LinkDownTimeout));
        using var client = ManagementClient.Locate(null, null, state);
        var lun = (await client.SendAsync(HttpMethod.Get, "v1/luns")).GetProperty("luns")[0];
        // Every counted rule fired in full (the delay rule goes by rate, so it has no count).
        var rules = lun.GetProperty("faults").EnumerateArray().ToList();
        Assert.Equal(5, rules.Count);
        Assert.All(rules.Skip(1), r => Assert.Equal(0, r.GetProperty("remaining").GetInt32()));
        Assert.Equal([20, 20, 1, 3], rules.Skip(1).Select(r => r.GetProperty("hits").GetInt64()));
        // Each BUSY / QUEUE FULL answer is retried by the port, unless the stall's LU reset ended
        // the request while it waited for its retry (the reset completes what the LU holds).
        var counters = lun.GetProperty("counters");
        Assert.InRange(counters.GetProperty("busyRetries").GetInt64(), 1, 20);
        Assert.InRange(counters.GetProperty("queueFullRetries").GetInt64(), 1, 20);
        Assert.Equal(0, lun.GetProperty("outstanding").GetInt32());
        Assert.Equal(0, lun.GetProperty("pending").GetInt32());
        Assert.Equal(0, lun.GetProperty("stalled").GetInt32());
    }

    [InteropFact("qemu-io", "nbdinfo")]
    public async Task A_dropped_connection_ends_the_nbd_clients_session_and_a_new_one_sees_the_data()
    {
        using var folder = new TempFolder();
        // Writes are slowed so that qemu-io is still connected when the drop comes.
        var config = Config(folder, "[ { kind: delay, operations: write, delay: 300ms } ]");
        await using var server = await StorSharpServer.StartAsync(iscsi: false, nbd: true, "--config", config);
        var state = Path.Combine(folder.Path, "management.json");
        var writer = QemuIo(server.NbdUrl(), "write -P 0x31 0 64k", "write -P 0x32 64k 64k", "write -P 0x33 128k 64k",
            "write -P 0x34 192k 64k", "write -P 0x35 256k 64k", "write -P 0x36 320k 64k", "write -P 0x37 384k 64k", "write -P 0x38 448k 64k",
            "write -P 0x39 512k 64k", "write -P 0x3a 576k 64k");
        await Task.Delay(TimeSpan.FromSeconds(1));
        var drop = await Cli.RunStorSharp(Bound, "fault", "drop-connections", Iqn, "0", "--state", state);
        Assert.True(drop.ExitCode == 0, drop.ToString());
        var cut = await writer;
        Assert.Contains("failed", cut.Output + cut.Error, StringComparison.OrdinalIgnoreCase); // the client saw its connection end
        Assert.Single(Events(server, StorageEventIds.ConnectionsDropped));
        // The first write was acknowledged before the drop: a new connection reads it back.
        var after = await QemuIo(server.NbdUrl(), "read -P 0x31 0 64k");
        AssertOk(after);
        var info = await Cli.Run("nbdinfo", ["--size", server.NbdUrl()], Bound);
        Assert.True(info.ExitCode == 0, info.ToString());
    }

    /// <summary>Runs iscsi-test-cu tests and returns (ran, passed, failed) from its run summary.</summary>
    private static async Task<(int Ran, int Passed, int Failed, ToolResult Result)> TestCu(StorSharpServer server, string tests)
    {
        var result = await Cli.Run("iscsi-test-cu", ["--dataloss", "-t", tests, server.IscsiUrl()], Bound);
        var m = System.Text.RegularExpressions.Regex.Match(result.Output, @"tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)");
        Assert.True(m.Success, result.ToString());
        return (int.Parse(m.Groups[2].Value), int.Parse(m.Groups[3].Value), int.Parse(m.Groups[4].Value), result);
    }

    [InteropFact("iscsi-test-cu")]
    public async Task Initiator_abort_task_of_a_delayed_write_goes_through_the_port()
    {
        using var folder = new TempFolder();
        // A delay keeps the write in flight (in the LU's filter) when the initiator's ABORT TASK arrives.
        var config = Config(folder, "[ { kind: delay, operations: write, delay: 500ms } ]");
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);
        var (ran, passed, failed, result) = await TestCu(server, "iSCSI.iSCSITMF.AbortTaskSimpleAsync");
        Assert.True(ran == 1 && passed == 1 && failed == 0, result.ToString());
        Assert.DoesNotContain("SKIPPED", result.Output);
    }

    [InteropFact("iscsi-test-cu")]
    public async Task Initiator_lu_reset_and_target_reset_go_through_the_port_reset_ladder()
    {
        using var folder = new TempFolder();
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", Config(folder));
        var (ran, passed, failed, result) = await TestCu(server, "SCSI.Reserve6.LUNReset");
        Assert.True(ran == 1 && passed == 1 && failed == 0, result.ToString());
        Assert.NotEmpty(Events(server, StorageEventIds.LunReset));
        (ran, passed, failed, result) = await TestCu(server, "SCSI.Reserve6.TargetWarmReset");
        Assert.True(ran == 1 && passed == 1 && failed == 0, result.ToString());
        Assert.NotEmpty(Events(server, StorageEventIds.TargetReset));
        Assert.Empty(Events(server, StorageEventIds.ResetToDevice)); // requested resets, not timeouts
    }

    [InteropFact("qemu-io")]
    public async Task The_management_api_of_the_real_process_sets_faults_and_follows_events()
    {
        using var folder = new TempFolder();
        await using var server = await StorSharpServer.StartAsync(iscsi: false, nbd: true, "--config", Config(folder));
        var state = Path.Combine(folder.Path, "management.json");
        Assert.Contains("Management API http://127.0.0.1:", server.Output);
        var luns = await Cli.RunStorSharp(Bound, "luns", "--state", state);
        Assert.True(luns.ExitCode == 0, luns.ToString());
        Assert.Contains(Iqn, luns.Output);
        Assert.Contains("ready", luns.Output);
        var set = await Cli.RunStorSharp(Bound, "fault", "set", Iqn, "0", """[{"kind":"error","operations":"read","senseKey":"MEDIUM_ERROR","asc":"0x11","count":1}]""", "--state", state);
        Assert.True(set.ExitCode == 0, set.ToString());
        var read = await QemuIo(server.NbdUrl(), "read 0 4k");
        Assert.Contains("read failed", read.Output + read.Error);
        var again = await QemuIo(server.NbdUrl(), "read 0 4k");
        AssertOk(again);
        var bad = await Cli.RunStorSharp(Bound, "queue-depth", Iqn, "0", "300", "--state", state);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("depth", bad.Error);
        var events = await Cli.RunStorSharp(TimeSpan.FromSeconds(60), "events", "--file", server.EventLogPath);
        Assert.Contains(" 1060 ", events.Output);
    }
}
