namespace StorSharp.Interop.Tests;

/// <summary>
/// VHD, VHDX and VMDK images made by the real qemu-img, served by the real storsharp process
/// (<c>backend: image</c>): read back over NBD and iSCSI and compared with qemu-img's raw conversion,
/// written over NBD, then checked and compared by qemu-img after the server stops.
/// </summary>
public sealed class VirtualDiskImageInteropTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private const string Iqn = "iqn.2026-11.io.storsharp:img";

    /// <summary>qemu format, creation options, the format name in the config.</summary>
    public static TheoryData<string, string, string> Images => new()
    {
        { "vpc", "subformat=dynamic", "vhd" },
        { "vpc", "subformat=fixed,force_size=on", "auto" },
        { "vhdx", "subformat=dynamic", "vhdx" },
        { "vmdk", "subformat=monolithicSparse", "vmdk" },
        { "vmdk", "subformat=twoGbMaxExtentFlat", "auto" },
    };

    private static async Task Run(string tool, params string[] args)
    {
        var result = await Cli.Run(tool, args, Bound);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [VirtualDiskInteropTheory("qemu-img", "qemu-io")]
    [MemberData(nameof(Images))]
    public async Task Serves_qemu_made_images_over_nbd_and_iscsi_and_writes_what_qemu_reads(string qemuFormat, string options, string format)
    {
        using var folder = new TempFolder();
        string source = Path.Combine(folder.Path, "source.raw"), image = Path.Combine(folder.Path, "disk." + qemuFormat), expected = Path.Combine(folder.Path, "expected.raw");
        // 16 MiB: random data in 1 MiB pieces every 3 MiB, zeros (unallocated) in between.
        var data = new byte[16 << 20];
        var random = new Random(42);
        for (int at = 0; at < data.Length; at += 3 << 20) random.NextBytes(data.AsSpan(at, 1 << 20));
        await File.WriteAllBytesAsync(source, data);
        await Run("qemu-img", "convert", "-f", "raw", "-O", qemuFormat, "-o", options, source, image);
        await Run("qemu-img", "convert", "-f", qemuFormat, "-O", "raw", image, expected);

        string config = Path.Combine(folder.Path, "storsharp.yaml");
        await File.WriteAllTextAsync(config, $$"""
            targets:
              - iqn: {{Iqn}}
            luns:
              - { backend: image, path: "{{image}}", format: {{format}} }
            nbd:
              exports:
                - { name: img, lun: 0 }
            """);
        await using (var server = await StorSharpServer.StartAsync(iscsi: true, nbd: true, "--config", config))
        {
            var nbd = server.NbdUrl("img");
            await Run("qemu-img", "compare", "-f", "raw", "-F", "raw", expected, nbd);
            await Run("qemu-img", "compare", "-f", "raw", "-F", "raw", expected, server.IscsiUrl(Iqn));

            // Write over NBD: into unallocated space, over data, across a 2 MiB boundary; qemu-io flushes before it exits.
            await Run("qemu-io", "-f", "raw", "-c", "write -P 0x3c 5M 128k", "-c", "write -P 0xc3 4032k 128k", "-c", "write -P 0x11 0 4k", nbd);
            await using (var raw = new FileStream(expected, FileMode.Open, FileAccess.Write))
            {
                foreach (var (offset, length, pattern) in new (long, int, byte)[] { (5 << 20, 128 << 10, 0x3c), (4032 << 10, 128 << 10, 0xc3), (0, 4096, 0x11) })
                {
                    raw.Position = offset;
                    raw.Write(Enumerable.Repeat(pattern, length).ToArray());
                }
            }
            await Run("qemu-img", "compare", "-f", "raw", "-F", "raw", expected, nbd);
            server.Signal(15);
            Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }
        if (qemuFormat != "vpc") await Run("qemu-img", "check", "-f", qemuFormat, image);
        await Run("qemu-img", "compare", "-f", qemuFormat, "-F", "raw", image, expected);
    }

    [InteropFact("qemu-img")]
    public async Task A_corrupt_image_stops_the_server_with_a_message_naming_it()
    {
        using var folder = new TempFolder();
        string image = Path.Combine(folder.Path, "broken.vhdx");
        await Run("qemu-img", "create", "-q", "-f", "vhdx", image, "16M");
        var bytes = await File.ReadAllBytesAsync(image);
        bytes[(64 << 10) + 100] ^= 1; // both headers damaged
        bytes[(128 << 10) + 100] ^= 1;
        await File.WriteAllBytesAsync(image, bytes);
        string config = Path.Combine(folder.Path, "storsharp.yaml");
        await File.WriteAllTextAsync(config, $$"""
            targets:
              - iqn: {{Iqn}}
            luns:
              - { backend: image, path: "{{image}}" }
            nbd:
              exports:
                - { name: img, lun: 0 }
            eventLog: off
            """);
        var result = await Cli.RunStorSharp(Bound, "serve", "--config", config, "--iscsi", "off", "--nbd", $"127.0.0.1:{Cli.FreePort()}");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("broken.vhdx", result.Error);
        Assert.Contains("neither header is valid", result.Error);
    }
}

/// <summary>A theory of <see cref="VirtualDiskImageInteropTests"/>: skipped, with the reason, only when a client tool is missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class VirtualDiskInteropTheoryAttribute : TheoryAttribute
{
    public VirtualDiskInteropTheoryAttribute(params string[] tools)
    {
        var missing = tools.Where(t => !Cli.Has(t)).ToList();
        if (missing.Count > 0) Skip = $"needs {string.Join(", ", missing)} (scripts/test.sh installs it as root)";
    }
}
