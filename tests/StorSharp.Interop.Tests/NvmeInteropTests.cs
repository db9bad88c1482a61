namespace StorSharp.Interop.Tests;

/// <summary>
/// An NVMe-style LUN (<c>device: nvme</c>) served by the real storsharp process: QEMU writes an
/// image into it over one protocol and compares it back over the other, so every byte went through
/// the SCSI-to-NVMe translation, the PRP lists and the controller model.
/// </summary>
public sealed class NvmeInteropTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private const string Iqn = "iqn.2026-11.io.storsharp:nvme";

    private static async Task<string> ConfigAsync(TempFolder folder, string lun)
    {
        var config = Path.Combine(folder.Path, "storsharp.yaml");
        await File.WriteAllTextAsync(config,
            $"targets:\n  - iqn: {Iqn}\nluns:\n  - target: {Iqn}\n    number: 0\n    device: nvme\n{lun}nbd:\n  exports:\n    - name: nvme0\n");
        return config;
    }

    /// <summary>A raw image with random runs and holes, so both data and zeros are compared.</summary>
    private static async Task<string> ImageAsync(TempFolder folder, int sizeBytes)
    {
        var data = new byte[sizeBytes];
        var random = new Random(2026);
        for (int at = 0; at < sizeBytes; at += 256 * 1024)
            if (random.Next(3) != 0) random.NextBytes(data.AsSpan(at, Math.Min(256 * 1024, sizeBytes - at)));
        var path = Path.Combine(folder.Path, "image.raw");
        await File.WriteAllBytesAsync(path, data);
        return path;
    }

    [InteropFact("qemu-img", "qemu-io")]
    public async Task An_image_written_over_nbd_compares_identical_over_iscsi_on_a_ram_namespace()
    {
        using var folder = new TempFolder();
        var config = await ConfigAsync(folder, "    backend: ram\n    size: 16M\n");
        var image = await ImageAsync(folder, 16 << 20);
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: true, "--config", config);
        Assert.Contains("NVMe namespace", server.Output);
        var write = await Cli.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", image, server.NbdUrl("nvme0")], Bound);
        Assert.True(write.ExitCode == 0, write.ToString());
        var compare = await Cli.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, server.IscsiUrl(Iqn)], Bound);
        Assert.True(compare.ExitCode == 0, compare.ToString());
        Assert.Contains("Images are identical", compare.Output);
        // An unaligned write over iSCSI reads back over NBD (QEMU does the read-modify-write of the blocks).
        var io = await Cli.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 1536 9000", server.IscsiUrl(Iqn)], Bound);
        Assert.True(io.ExitCode == 0, io.ToString());
        var back = await Cli.Run("qemu-io", ["-f", "raw", "-c", "read -P 0x5a 1536 9000", server.NbdUrl("nvme0")], Bound);
        Assert.True(back.ExitCode == 0 && !back.Output.Contains("Pattern verification failed"), back.ToString());
        // And the change is the only difference from the image.
        var differs = await Cli.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, server.NbdUrl("nvme0")], Bound);
        Assert.Equal(1, differs.ExitCode);
    }

    [InteropFact("qemu-img")]
    public async Task An_image_written_over_iscsi_compares_identical_over_nbd_on_a_4k_file_namespace()
    {
        using var folder = new TempFolder();
        var disk = Path.Combine(folder.Path, "nvme.img");
        var config = await ConfigAsync(folder, $"    backend: file\n    path: {disk}\n    create: true\n    size: 8M\n    blockSize: 4096\n");
        var image = await ImageAsync(folder, 8 << 20);
        await using var server = await StorSharpServer.StartAsync(iscsi: true, nbd: true, "--config", config);
        var write = await Cli.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", image, server.IscsiUrl(Iqn)], Bound);
        Assert.True(write.ExitCode == 0, write.ToString());
        var compare = await Cli.Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, server.NbdUrl("nvme0")], Bound);
        Assert.True(compare.ExitCode == 0, compare.ToString());
        Assert.Contains("Images are identical", compare.Output);
    }

    [Fact]
    public async Task A_removable_nvme_lun_is_a_config_error_naming_the_field()
    {
        using var folder = new TempFolder();
        var config = await ConfigAsync(folder, "    size: 16M\n    removable: true\n");
        var result = await Cli.RunStorSharp(Bound, "serve", "--config", config);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("luns[0].removable: an nvme namespace is not removable", result.Error);
    }
}
