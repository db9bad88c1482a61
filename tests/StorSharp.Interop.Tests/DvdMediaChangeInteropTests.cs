using System.Net;
using System.Security.Cryptography;
using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Tests;
using StorSharp.Port;

namespace StorSharp.Interop.Tests;

/// <summary>
/// Changing the disc of a virtual DVD at run time, end to end: the real <c>storsharp serve</c>, the
/// <c>storsharp media</c> CLI, QEMU reading the disc over iSCSI, and an iSCSI host of the test's own
/// (the Iscsi tests' MiniInitiator) that sees the unit attention and locks the tray with
/// PREVENT ALLOW MEDIUM REMOVAL, which no client tool can hold across commands.
/// </summary>
public sealed class DvdMediaChangeInteropTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private const string Iqn = "iqn.2026-11.io.storsharp:media";

    /// <summary>An ISO 9660 image (xorriso) of <paramref name="files"/> random files made from <paramref name="seed"/>.</summary>
    private static async Task<string> MakeIsoAsync(TempFolder folder, string name, int seed, int files)
    {
        var dir = Directory.CreateDirectory(Path.Combine(folder.Path, name)).FullName;
        var random = new Random(seed);
        for (var i = 1; i <= files; i++)
        {
            var data = new byte[i * 200_003 + seed];
            random.NextBytes(data);
            await File.WriteAllBytesAsync(Path.Combine(dir, $"{name}{i}.bin"), data);
        }
        var iso = Path.Combine(folder.Path, $"{name}.iso");
        var make = await Cli.Run("xorriso", ["-as", "mkisofs", "-quiet", "-V", name.ToUpperInvariant(), "-o", iso, dir], Bound);
        Assert.True(make.ExitCode == 0, make.ToString());
        return iso;
    }

    private static string Config(TempFolder folder, string lun) =>
        File.WriteAllTextAsync(Path.Combine(folder.Path, "storsharp.yaml"), $"""
            management:
              stateFile: {Path.Combine(folder.Path, "management.json")}
            targets:
              - iqn: {Iqn}
            luns:
              - target: {Iqn}
                number: 0
                device: dvd
            {lun}
            nbd: off
            """).ContinueWith(_ => Path.Combine(folder.Path, "storsharp.yaml")).Result;

    private static Task<ToolResult> Media(TempFolder folder, params string[] args) =>
        Cli.RunStorSharp(Bound, ["media", .. args, "--state", Path.Combine(folder.Path, "management.json")]);

    private static string Sha256(string file) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));

    /// <summary>Copies the whole disc over iSCSI with qemu-img and returns the copy's SHA-256.</summary>
    private static async Task<string> ReadDiscAsync(StorSharpServer server, TempFolder folder, string name)
    {
        var copy = Path.Combine(folder.Path, name);
        var convert = await Cli.Run("qemu-img", ["convert", "-f", "raw", "-O", "raw", server.IscsiUrl(Iqn), copy], Bound);
        Assert.True(convert.ExitCode == 0, convert.ToString());
        return Sha256(copy);
    }

    /// <summary>A host logged in to the target, its POWER ON unit attention taken.</summary>
    private static async Task<MiniInitiator> HostAsync(StorSharpServer server)
    {
        var host = await MiniInitiator.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.IscsiPort));
        Assert.Equal(LoginStatus.Success, (await host.LoginAsync("iqn.2026-11.io.storsharp:tests", Iqn)).Status);
        var first = await TestUnitReadyAsync(host);
        Assert.Equal((6, 0x29), (first.Key, first.Asc)); // POWER ON, RESET
        return host;
    }

    private static readonly byte[] TestUnitReady = [0x00, 0, 0, 0, 0, 0];

    /// <summary>TEST UNIT READY: status, and the sense key, ASC and ASCQ (zeros when GOOD).</summary>
    private static async Task<(byte Status, int Key, int Asc, int Ascq)> TestUnitReadyAsync(MiniInitiator host)
    {
        var (status, _, _, sense) = await host.ExecuteAsync(TestUnitReady, 0, read: false);
        return sense.Length >= 14 ? (status, sense[2] & 0x0F, sense[12], sense[13]) : (status, 0, 0, 0);
    }

    private static IReadOnlyList<StorageEvent> Events(StorSharpServer server, int id) =>
        [.. EventLog.ReadFile(server.EventLogPath).Where(e => e.Id == id)];

    [InteropFact("xorriso", "qemu-img")]
    public async Task A_disc_changed_with_the_cli_reaches_iscsi_hosts_and_a_locked_disc_is_only_ejected_with_force()
    {
        using var folder = new TempFolder();
        var first = await MakeIsoAsync(folder, "first", 1, 3);
        var second = await MakeIsoAsync(folder, "second", 2, 5);
        Assert.NotEqual(Sha256(first), Sha256(second));
        var config = Config(folder, $"    backend: file\n    path: {first}");
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);

        // QEMU reads the first disc.
        Assert.Equal(Sha256(first), await ReadDiscAsync(server, folder, "copy1.iso"));
        await using var host = await HostAsync(server);
        Assert.Equal((0, 0, 0, 0), await TestUnitReadyAsync(host));

        // The CLI changes the disc; the logged-in host gets NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED.
        var insert = await Media(folder, "insert", Iqn, "0", second);
        Assert.True(insert.ExitCode == 0, insert.ToString());
        Assert.Contains($"disc {second} (", insert.Output);
        Assert.Equal((2, 6, 0x28, 0x00), await TestUnitReadyAsync(host)); // CHECK CONDITION, UNIT ATTENTION 28h/00h
        Assert.Equal((0, 0, 0, 0), await TestUnitReadyAsync(host));
        Assert.Equal(Sha256(second), await ReadDiscAsync(server, folder, "copy2.iso"));

        // The host locks the disc in: eject is refused (exit 2), nothing moves.
        var (preventStatus, _, _, _) = await host.ExecuteAsync([0x1E, 0, 0, 0, 1, 0], 0, read: false);
        Assert.Equal(0, preventStatus);
        var refused = await Media(folder, "eject", Iqn, "0");
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("PREVENT ALLOW MEDIUM REMOVAL", refused.Error);
        Assert.Contains("--force", refused.Error);
        var show = await Media(folder, "show", Iqn, "0");
        Assert.StartsWith($"LUN 0 of {Iqn}: disc {second} (", show.Output);
        Assert.EndsWith(", cd-rom), tray closed, locked by a host (PREVENT ALLOW MEDIUM REMOVAL)", show.Output.Trim());
        Assert.Equal((0, 0, 0, 0), await TestUnitReadyAsync(host));

        // --force takes it out anyway: the host finds the tray open.
        var forced = await Media(folder, "eject", Iqn, "0", "--force");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.Equal($"LUN 0 of {Iqn}: no disc, tray open, locked by a host (PREVENT ALLOW MEDIUM REMOVAL)", forced.Output.Trim());
        Assert.Equal((2, 2, 0x3A, 0x02), await TestUnitReadyAsync(host)); // NOT READY, MEDIUM NOT PRESENT - TRAY OPEN

        Assert.Equal(second, Assert.Single(Events(server, StorageEventIds.MediaInserted)).Data["Path"]);
        Assert.Single(Events(server, StorageEventIds.MediaEjectRefused));
        Assert.Equal("true", Assert.Single(Events(server, StorageEventIds.MediaEjected)).Data["Forced"]);
    }

    [InteropFact("xorriso", "qemu-img")]
    public async Task An_empty_drive_from_the_configuration_serves_the_disc_inserted_later()
    {
        using var folder = new TempFolder();
        var iso = await MakeIsoAsync(folder, "later", 3, 2);
        var config = Config(folder, "    backend: none");
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);
        Assert.Contains($"LUN 0 of {Iqn}: DVD drive, empty", server.Output);
        Assert.Contains($"  iscsi-inq {server.IscsiUrl(Iqn)}", server.Output);
        Assert.DoesNotContain($"  qemu-img info {server.IscsiUrl(Iqn)}", server.Output); // an empty drive has nothing to show
        await using var host = await HostAsync(server);
        Assert.Equal((2, 2, 0x3A, 0x01), await TestUnitReadyAsync(host)); // MEDIUM NOT PRESENT - TRAY CLOSED
        var show = await Media(folder, "show", Iqn, "0");
        Assert.Equal($"LUN 0 of {Iqn}: no disc, tray closed, not locked", show.Output.Trim());

        var insert = await Media(folder, "insert", Iqn, "0", iso);
        Assert.True(insert.ExitCode == 0, insert.ToString());
        Assert.Equal((2, 6, 0x28, 0x00), await TestUnitReadyAsync(host));
        Assert.Equal(Sha256(iso), await ReadDiscAsync(server, folder, "copy.iso"));
        // A file that is not whole sectors is refused, naming the field, and the disc stays.
        var odd = Path.Combine(folder.Path, "odd.iso");
        await File.WriteAllBytesAsync(odd, new byte[10 * 2048 + 100]);
        var refused = await Media(folder, "insert", Iqn, "0", odd);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("path: ", refused.Error);
        Assert.Contains("not a whole number of 2048-byte sectors", refused.Error);
        Assert.Contains($"disc {iso} (", (await Media(folder, "show", Iqn, "0")).Output);
    }
}
