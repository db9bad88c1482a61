using System.Security.Cryptography;

namespace StorSharp.Interop.Tests;

/// <summary>
/// A virtual DVD (<c>device: dvd</c>) served by the real storsharp process: an ISO made by
/// xorriso from random files, read back over iSCSI by QEMU's initiator and identified by libiscsi.
/// </summary>
public sealed class DvdInteropTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private const string Iqn = "iqn.2026-11.io.storsharp:dvd";

    /// <summary>An ISO 9660 image of a folder of random files (about 3.5 MiB), and the config that serves it as a DVD.</summary>
    private static async Task<(string Iso, string Config)> MakeIsoAndConfigAsync(TempFolder folder)
    {
        var files = Directory.CreateDirectory(Path.Combine(folder.Path, "files")).FullName;
        var random = new Random(2026);
        for (var i = 1; i <= 4; i++)
        {
            var data = new byte[i * 311_111 + i];
            random.NextBytes(data);
            await File.WriteAllBytesAsync(Path.Combine(files, $"file{i}.bin"), data);
        }
        var iso = Path.Combine(folder.Path, "disc.iso");
        var make = await Cli.Run("xorriso", ["-as", "mkisofs", "-quiet", "-V", "STORSHARP", "-o", iso, files], Bound);
        Assert.True(make.ExitCode == 0, make.ToString());
        var config = Path.Combine(folder.Path, "storsharp.yaml");
        await File.WriteAllTextAsync(config,
            $"targets:\n  - iqn: {Iqn}\nluns:\n  - target: {Iqn}\n    number: 0\n    device: dvd\n    backend: file\n    path: {iso}\nnbd:\n  enabled: false\n");
        return (iso, config);
    }

    [InteropFact("xorriso", "iscsi-inq")]
    public async Task Iscsi_inq_sees_a_removable_mmc_device()
    {
        using var folder = new TempFolder();
        var (_, config) = await MakeIsoAndConfigAsync(folder);
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);
        // The banner describes the drive and suggests a command a DVD answers.
        Assert.Contains("DVD drive, disc file", server.Output);
        Assert.Contains($"iscsi-inq {server.IscsiUrl(Iqn)}", server.Output);
        var inq = await Cli.Run("iscsi-inq", [server.IscsiUrl(Iqn)], Bound);
        Assert.True(inq.ExitCode == 0, inq.ToString());
        Assert.Contains("Peripheral Device Type:MMC", inq.Output); // type 05h
        Assert.Contains("Removable:1", inq.Output);
        Assert.Contains("Product:Virtual DVD-ROM", inq.Output);
    }

    [InteropFact("xorriso", "qemu-img")]
    public async Task Qemu_img_reads_the_iso_back_with_the_same_checksum()
    {
        using var folder = new TempFolder();
        var (iso, config) = await MakeIsoAndConfigAsync(folder);
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);
        var copy = Path.Combine(folder.Path, "copy.raw");
        var convert = await Cli.Run("qemu-img", ["convert", "-f", "raw", "-O", "raw", server.IscsiUrl(Iqn), copy], Bound);
        Assert.True(convert.ExitCode == 0, convert.ToString());
        // QEMU's probe of write protection (MODE SENSE(6)) is answered, not refused.
        Assert.DoesNotContain("MODE_SENSE", convert.Error);
        Assert.Equal(new FileInfo(iso).Length, new FileInfo(copy).Length);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(iso))), Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(copy))));
    }

    [InteropFact("xorriso", "iscsi-test-cu")]
    public async Task Libiscsi_test_suites_that_apply_to_an_mmc_device_pass()
    {
        using var folder = new TempFolder();
        var (_, config) = await MakeIsoAndConfigAsync(folder);
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);
        // The SPC suites and the removable-medium ones (libiscsi skips its SBC-only tests on a type 05h device).
        const string Suites = "SCSI.Inquiry,SCSI.TestUnitReady,SCSI.Read10,SCSI.Read12,SCSI.StartStopUnit,SCSI.ModeSense6,SCSI.PreventAllow";
        var run = await Cli.Run("iscsi-test-cu", ["-i", "iqn.2026-11.io.storsharp:tests", "-t", Suites, server.IscsiUrl(Iqn)], Bound);
        Assert.True(run.ExitCode == 0, run.ToString());
        var tests = run.Output.Split('\n').Single(l => l.TrimStart().StartsWith("tests ", StringComparison.Ordinal));
        var columns = tests.Split(' ', StringSplitOptions.RemoveEmptyEntries); // tests, Total, Ran, Passed, Failed, Inactive
        Assert.True(int.Parse(columns[1]) >= 30 && columns[4] == "0", run.ToString());
    }

    [InteropFact("qemu-io")]
    public async Task Writes_to_the_dvd_fail()
    {
        using var folder = new TempFolder();
        var iso = Path.Combine(folder.Path, "blank.iso");
        await File.WriteAllBytesAsync(iso, new byte[64 * 2048]);
        var config = Path.Combine(folder.Path, "storsharp.yaml");
        await File.WriteAllTextAsync(config,
            $"targets:\n  - iqn: {Iqn}\nluns:\n  - target: {Iqn}\n    device: dvd\n    backend: file\n    path: {iso}\nnbd:\n  enabled: false\n");
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--config", config);
        var write = await Cli.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x55 0 2048", server.IscsiUrl(Iqn)], Bound);
        Assert.True(write.ExitCode != 0, write.ToString());
        Assert.Contains("WRITE_PROTECTED", write.Error); // DATA PROTECT, WRITE PROTECTED (27h/00h)
        Assert.Equal(new byte[2048], (await File.ReadAllBytesAsync(iso))[..2048]);
    }

    [Fact]
    public async Task A_dvd_on_a_ram_backend_is_a_config_error_naming_the_field()
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "storsharp.yaml");
        await File.WriteAllTextAsync(path, $"targets:\n  - iqn: {Iqn}\nluns:\n  - target: {Iqn}\n    device: dvd\n    size: 64M\nnbd: off\n");
        var result = await Cli.RunStorSharp(Bound, "serve", "--config", path);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("luns[0].backend: a dvd's disc is an ISO image", result.Error);
    }
}
