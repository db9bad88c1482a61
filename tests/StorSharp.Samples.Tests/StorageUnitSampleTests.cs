using System.Diagnostics;
using System.Net;
using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Samples.Tests;

public class StorageUnitSampleTests
{
    [Fact]
    public async Task The_sample_unit_works_through_the_port_and_the_scsi_disk_miniport()
    {
        await using var port = new StoragePort();
        var adapter = await SampleHost.AddUnitAsync(port, new DictionaryStorageUnit(blockCount: 2048));
        Assert.Equal("Dictionary Unit", Assert.Single(adapter.LogicalUnits).Identity!.ProductId);
        await using var disk = await SampleHost.OpenAsync(adapter);
        Assert.Equal(2048, disk.Geometry.BlockCount);

        var data = new byte[3000];
        Random.Shared.NextBytes(data);
        await disk.WriteAtAsync(700, data); // unaligned: read-modify-write through the class layer
        var back = new byte[3000];
        await disk.ReadAtAsync(700, back);
        Assert.Equal(data, back);

        var never = new byte[512];
        never[0] = 0xFF;
        await disk.ReadAsync(2000, never);
        Assert.All(never, b => Assert.Equal(0, b));

        await disk.UnmapAsync(0, 16);
        await disk.ReadAtAsync(700, back);
        Assert.All(back, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task The_sample_unit_serves_real_nbd_clients()
    {
        if (!File.Exists("/usr/bin/nbdinfo")) { Assert.Fail("nbdinfo is not installed (scripts/test.sh installs libnbd-bin)"); }
        await using var port = new StoragePort();
        var adapter = await SampleHost.AddUnitAsync(port, new DictionaryStorageUnit(blockCount: 131072));
        await using var nbd = await SampleHost.ServeNbdAsync(adapter, new IPEndPoint(IPAddress.Loopback, 0));
        var psi = new ProcessStartInfo("nbdinfo", ["--size", $"nbd://127.0.0.1:{nbd.LocalEndpoint.Port}/unit"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(20_000)) { p.Kill(true); Assert.Fail("nbdinfo did not finish in 20 s"); }
        Assert.Equal(0, p.ExitCode);
        Assert.Equal((131072L * 512).ToString(), (await output).Trim());
    }

    [Fact]
    public void The_guide_shows_the_sample_exactly_as_it_compiles()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "StorSharp.slnx"))) root = Path.GetDirectoryName(root)!;
        var code = File.ReadAllText(Path.Combine(root, "samples/StorageUnit/DictionaryStorageUnit.cs")).Trim();
        var guide = File.ReadAllText(Path.Combine(root, "docs/writing-a-miniport.md"));
        Assert.Contains(code, guide);
        Assert.InRange(code.Split('\n').Length, 30, 60); // "about 40 lines"
    }
}
