namespace StorSharp.Iscsi.Tests;

/// <summary>Real initiators (libiscsi tools, qemu) against the target. Skipped (passing) where a tool is missing.</summary>
public sealed class InteropTests
{
    private static bool Have(string tool) => ExternalTool.Exists(tool);

    private static string Dump(TestTarget t, string output)
    {
        lock (t.Log) return output + "\n--- target log ---\n" + string.Join("\n", t.Log.TakeLast(40));
    }

    [Fact]
    public async Task IscsiLs_discovers_targets_and_luns()
    {
        if (!Have("iscsi-ls")) return;
        await using var t = await TestTarget.StartAsync();
        var (code, output) = await ExternalTool.RunAsync("iscsi-ls", $"-s -i iqn.2026-11.org.storsharp:client iscsi://127.0.0.1:{t.Endpoint.Port}", 30);
        Assert.True(code == 0, Dump(t, output));
        Assert.Contains(TestTarget.TargetName, output);
        Assert.Contains($"Portal:127.0.0.1:{t.Endpoint.Port},1", output);
        Assert.Contains("Lun:0", output);
        // libiscsi prints the flat-space LUN 300 with its addressing bits (0x4000 | 300).
        Assert.True(output.Contains("Lun:300") || output.Contains("Lun:16684"), Dump(t, output));
        Assert.DoesNotContain(TestTarget.SecondTargetName, output); // hidden by its ACL
    }

    [Fact]
    public async Task IscsiLs_with_discovery_chap()
    {
        if (!Have("iscsi-ls")) return;
        await using var t = await TestTarget.StartAsync(o => o.DiscoveryChap = new ChapCredentials("user", "secretsecret12"));
        var (code, output) = await ExternalTool.RunAsync("iscsi-ls", $"-i iqn.2026-11.org.storsharp:client iscsi://user%secretsecret12@127.0.0.1:{t.Endpoint.Port}", 30);
        Assert.True(code == 0, Dump(t, output));
        Assert.Contains(TestTarget.TargetName, output);

        var (bad, badOutput) = await ExternalTool.RunAsync("iscsi-ls", $"-i iqn.2026-11.org.storsharp:client iscsi://user%wrongsecret12@127.0.0.1:{t.Endpoint.Port}", 30);
        Assert.True(bad != 0, Dump(t, badOutput));
        var (none, noneOutput) = await ExternalTool.RunAsync("iscsi-ls", $"-i iqn.2026-11.org.storsharp:client iscsi://127.0.0.1:{t.Endpoint.Port}", 30);
        Assert.True(none != 0, Dump(t, noneOutput));
    }

    [Fact]
    public async Task IscsiInq_and_readcapacity16_through_normal_session_with_chap()
    {
        if (!Have("iscsi-inq") || !Have("iscsi-readcapacity16")) return;
        await using var t = await TestTarget.StartAsync(o =>
        {
            var def = o.Targets[0] with { Chap = new ChapCredentials("alice", "alicesecret12") };
            o.Targets = [def, o.Targets[1]];
        });
        string url = $"iscsi://alice%alicesecret12@127.0.0.1:{t.Endpoint.Port}/{TestTarget.TargetName}/0";
        var (code, output) = await ExternalTool.RunAsync("iscsi-inq", $"-i iqn.2026-11.org.storsharp:client {url}", 30);
        Assert.True(code == 0, Dump(t, output));
        Assert.Contains("TEST RAM DISK", output);
        (code, output) = await ExternalTool.RunAsync("iscsi-readcapacity16", $"-i iqn.2026-11.org.storsharp:client {url}", 30);
        Assert.True(code == 0, Dump(t, output));
        Assert.Contains("ADDRESS:8191", output.Replace(" ", "").ToUpperInvariant());

        var (bad, badOutput) = await ExternalTool.RunAsync("iscsi-inq", $"-i iqn.2026-11.org.storsharp:client iscsi://127.0.0.1:{t.Endpoint.Port}/{TestTarget.TargetName}/0", 30);
        Assert.True(bad != 0, Dump(t, badOutput));
    }

    [Fact]
    public async Task Lun_above_255_answers_inquiry()
    {
        if (!Have("iscsi-inq")) return;
        await using var t = await TestTarget.StartAsync();
        var (code, output) = await ExternalTool.RunAsync("iscsi-inq", $"-i iqn.2026-11.org.storsharp:client {t.Url(300)}", 30);
        Assert.True(code == 0, Dump(t, output));
        Assert.Contains("TEST RAM DISK", output);
    }

    [Fact]
    public async Task Qemu_io_write_read_verify_and_qemu_img_convert_compare()
    {
        if (!Have("qemu-io") || !Have("qemu-img")) return;
        await using var t = await TestTarget.StartAsync();
        string url = t.Url(0);
        string iqn = "iqn.2026-11.org.storsharp:qemu";
        string Opts(string u) => $"--image-opts driver=iscsi,transport=tcp,portal=127.0.0.1:{t.Endpoint.Port},target={TestTarget.TargetName},lun={u},initiator-name={iqn}";
        var (code, output) = await ExternalTool.RunAsync("qemu-io", $"-c \"write -P 0xa5 0 1M\" -c \"write -P 0x5a 1M 512k\" -c \"read -P 0xa5 0 1M\" -c \"read -P 0x5a 1M 512k\" {Opts("0")}", 60);
        Assert.True(code == 0 && !output.Contains("failed", StringComparison.OrdinalIgnoreCase) && !output.Contains("Pattern verification"), Dump(t, output));
        Assert.Equal(0xa5, t.Miniport.Disk(0)[4096]);

        (code, output) = await ExternalTool.RunAsync("qemu-img", $"info {url}", 30);
        Assert.True(code == 0, Dump(t, output));
        Assert.Contains("4 MiB", output);

        string dir = Path.Combine(Path.GetTempPath(), "storsharp-iscsi-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string raw = Path.Combine(dir, "src.raw");
            var bytes = new byte[4 * 1024 * 1024];
            new Random(42).NextBytes(bytes);
            await File.WriteAllBytesAsync(raw, bytes);
            (code, output) = await ExternalTool.RunAsync("qemu-img", $"convert -n -f raw -O raw {raw} {url}", 60);
            Assert.True(code == 0, Dump(t, output));
            (code, output) = await ExternalTool.RunAsync("qemu-img", $"compare -f raw -F raw {raw} {url}", 60);
            Assert.True(code == 0, Dump(t, output));
            Assert.Equal(bytes, t.Miniport.Disk(0));
            // and the second LUN, addressed with flat-space LUN 300
            (code, output) = await ExternalTool.RunAsync("qemu-img", $"convert -n -f raw -O raw {raw} {t.Url(300)}", 60);
            Assert.True(code == 0, Dump(t, output));
            Assert.Equal(bytes, t.Miniport.Disk(1));
        }
        finally { Directory.Delete(dir, true); }
    }
}
