namespace StorSharp.Interop.Tests;

/// <summary>Real iSCSI initiators (libiscsi's tools, qemu-img's iscsi driver) against the real storsharp process.</summary>
public sealed class IscsiClientTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private const string Iqn = "iqn.2026-11.io.storsharp:disk0";

    [InteropFact("iscsi-ls")]
    public async Task Iscsi_ls_discovers_the_target_and_its_lun()
    {
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false);
        var result = await Cli.Run("iscsi-ls", ["-s", $"iscsi://127.0.0.1:{server.IscsiPort}"], Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(Iqn, result.Output);
        Assert.Contains("Lun:0", result.Output);
    }

    [InteropFact("iscsi-readcapacity16")]
    public async Task Readcapacity16_reports_1_GiB_of_512_byte_blocks()
    {
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false);
        var result = await Cli.Run("iscsi-readcapacity16", [server.IscsiUrl()], Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("1073741824", result.Output);
        Assert.Contains("512", result.Output);
    }

    [InteropFact("qemu-img")]
    public async Task Qemu_img_writes_and_compares_over_iscsi()
    {
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: false, "--size", "64M", "--block-size", "4096");
        using var folder = new TempFolder();
        var image = await Images.RandomRaw(folder, 8 << 20);
        var write = await Cli.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", image, server.IscsiUrl()], Bound);
        Assert.True(write.ExitCode == 0, write.ToString());
        var compare = await Cli.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, server.IscsiUrl()], Bound);
        Assert.True(compare.ExitCode == 0, compare.ToString());
        Assert.Contains("Images are identical", compare.Output);
    }

    [InteropFact("qemu-img")]
    public async Task Data_written_over_iscsi_reads_back_over_nbd()
    {
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: true, "--size", "64M");
        using var folder = new TempFolder();
        var image = await Images.RandomRaw(folder, 4 << 20);
        var write = await Cli.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", image, server.IscsiUrl()], Bound);
        Assert.True(write.ExitCode == 0, write.ToString());
        var compare = await Cli.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, server.NbdUrl()], Bound);
        Assert.True(compare.ExitCode == 0, compare.ToString());
    }
}
