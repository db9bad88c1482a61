using StorSharp.Port;

namespace StorSharp.Interop.Tests;

/// <summary>
/// Hot plug end to end: the real <c>storsharp serve</c> process, changed with <c>storsharp lun
/// add / resize / remove</c>, seen by real clients (libiscsi's iscsi-ls and iscsi-readcapacity16,
/// libnbd's nbdinfo, qemu-io over iSCSI and NBD).
/// </summary>
public sealed class HotPlugInteropTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private const string Iqn = "iqn.2026-11.io.storsharp:disk0";

    private static string Config(TempFolder folder)
    {
        var path = Path.Combine(folder.Path, "storsharp.yaml");
        File.WriteAllText(path, $"""
            management:
              listen: 127.0.0.1:0
              stateFile: {Path.Combine(folder.Path, "management.json")}
            targets:
              - iqn: {Iqn}
            luns:
              - size: 64M
            nbd:
              exports:
                - name: disk0
            """);
        return path;
    }

    private static void AssertOk(ToolResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("failed", result.Output + result.Error, StringComparison.OrdinalIgnoreCase);
    }

    [InteropFact("iscsi-ls", "iscsi-readcapacity16", "nbdinfo", "qemu-io")]
    public async Task A_lun_added_resized_and_removed_at_run_time_is_seen_by_iscsi_and_nbd_clients()
    {
        using var folder = new TempFolder();
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: true, "--config", Config(folder));
        var state = Path.Combine(folder.Path, "management.json");
        var portal = $"iscsi://127.0.0.1:{server.IscsiPort}";

        // Add: both front ends list it; data written over NBD reads back over iSCSI.
        var add = await Cli.RunStorSharp(Bound, "lun", "add", Iqn, "1", "--size", "32M", "--state", state);
        AssertOk(add);
        Assert.Contains("NBD export disk0-lun1", add.Output);
        var ls = await Cli.Run("iscsi-ls", ["-s", portal], Bound);
        AssertOk(ls);
        Assert.Contains("Lun:1", ls.Output);
        var list = await Cli.Run("nbdinfo", ["--list", $"nbd://127.0.0.1:{server.NbdPort}"], Bound);
        AssertOk(list);
        Assert.Contains("disk0-lun1", list.Output);
        AssertOk(await Cli.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x6b 1M 256k", server.NbdUrl("disk0-lun1")], Bound));
        var read = await Cli.Run("qemu-io", ["-f", "raw", "-c", "read -P 0x6b 1M 256k", server.IscsiUrl(Iqn, 1)], Bound);
        AssertOk(read);
        Assert.Contains("read 262144/262144 bytes", read.Output);

        // Resize: READ CAPACITY(16) and a new NBD connection see 48 MiB; the data stays.
        AssertOk(await Cli.RunStorSharp(Bound, "lun", "resize", Iqn, "1", "48M", "--state", state));
        var capacity = await Cli.Run("iscsi-readcapacity16", [server.IscsiUrl(Iqn, 1)], Bound);
        AssertOk(capacity);
        Assert.Contains($"RETURNED LOGICAL BLOCK ADDRESS:{(48 << 20) / 512 - 1}", capacity.Output);
        var size = await Cli.Run("nbdinfo", ["--size", server.NbdUrl("disk0-lun1")], Bound);
        AssertOk(size);
        Assert.Equal((48 << 20).ToString(), size.Output.Trim());
        AssertOk(await Cli.Run("qemu-io", ["-f", "raw", "-c", "read -P 0x6b 1M 256k", "-c", "write -P 0x6c 40M 64k", "-c", "read -P 0x6c 40M 64k", server.NbdUrl("disk0-lun1")], Bound));

        // A refused request says why and changes nothing.
        var refused = await Cli.RunStorSharp(Bound, "lun", "resize", Iqn, "1", "16M", "--state", state);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("can only grow", refused.Error);

        // Remove: gone from iSCSI and NBD; the export is unknown to new connections.
        AssertOk(await Cli.RunStorSharp(Bound, "lun", "remove", Iqn, "1", "--state", state));
        ls = await Cli.Run("iscsi-ls", ["-s", portal], Bound);
        AssertOk(ls);
        Assert.DoesNotContain("Lun:1", ls.Output);
        Assert.Contains("Lun:0", ls.Output);
        list = await Cli.Run("nbdinfo", ["--list", $"nbd://127.0.0.1:{server.NbdPort}"], Bound);
        Assert.DoesNotContain("disk0-lun1", list.Output);
        var gone = await Cli.Run("nbdinfo", [server.NbdUrl("disk0-lun1")], Bound);
        Assert.NotEqual(0, gone.ExitCode);
        var events = EventLog.ReadFile(server.EventLogPath).ToList();
        Assert.Contains(events, e => e.Id == StorageEventIds.LunAdded && e.Data["Address"] == "0:0:1");
        Assert.Contains(events, e => e.Id == StorageEventIds.LunResized && e.Data["SizeBytes"] == (48 << 20).ToString());
        Assert.Contains(events, e => e.Id == StorageEventIds.LunRemoved && e.Data["Address"] == "0:0:1" && e.Data["Removal"] == "orderly");
        // LUN 0 was never disturbed.
        AssertOk(await Cli.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x11 0 64k", "-c", "read -P 0x11 0 64k", server.IscsiUrl()], Bound));
    }
}
