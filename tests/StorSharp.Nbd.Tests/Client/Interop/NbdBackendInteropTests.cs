using System.Security.Cryptography;
using StorSharp.Block;
using StorSharp.Nbd.Client;
using StorSharp.Nbd.Tests.Client.Support;
using StorSharp.Nbd.Tests.Support;

namespace StorSharp.Nbd.Tests.Client.Interop;

/// <summary>The NBD backend against real servers: nbdkit (memory, file, filters) and qemu-nbd (raw, qcow2).</summary>
public class NbdBackendInteropTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private const int Mi = 1024 * 1024;

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static NbdClientOptions Options(NbdServerAddress address, int blockSize = 0) => new()
    {
        Address = address,
        BlockSize = blockSize,
        RequestTimeout = TimeSpan.FromSeconds(20),
        Reconnect = new NbdReconnectPolicy
        {
            InitialDelay = TimeSpan.FromMilliseconds(50),
            MaxDelay = TimeSpan.FromMilliseconds(500),
            RequestWait = TimeSpan.FromSeconds(30),
            MaxReplays = 10,
        },
    };

    private static async Task<byte[]> ReadAllAsync(IBlockDevice device)
    {
        var all = new byte[device.Geometry.SizeBytes];
        const int chunk = 4 * Mi;
        for (int at = 0; at < all.Length; at += chunk)
            await device.ReadAsync(at / device.Geometry.LogicalBlockSize, all.AsMemory(at, Math.Min(chunk, all.Length - at)));
        return all;
    }

    /// <summary>Waits until the writers have finished <paramref name="rounds"/> rounds between them: they are under way, far from done.</summary>
    private static async Task UnderWayAsync(int[] roundsDone, int rounds)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (Volatile.Read(ref roundsDone[0]) < rounds && DateTime.UtcNow < deadline) await Task.Delay(5);
    }

    /// <summary>Writers, each owning a region, writing patterns of varied sizes; <paramref name="model"/> tracks what must be there.</summary>
    /// <param name="roundsDone">Counts finished rounds, so a test can act once the writers are under way.</param>
    private static async Task RunWritersAsync(IBlockDevice device, byte[] model, int writers, int rounds, int seedBase, CancellationToken ct = default, int[]? roundsDone = null)
    {
        int blockSize = device.Geometry.LogicalBlockSize;
        int region = model.Length / writers;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var random = new Random(seedBase + w);
            for (int round = 0; round < rounds && !ct.IsCancellationRequested; round++)
            {
                int blocks = random.Next(1, Math.Min(region / blockSize, 2 * Mi / blockSize) + 1);
                int start = w * region + random.Next(0, region / blockSize - blocks + 1) * blockSize;
                byte[] data = Pattern(blocks * blockSize, seedBase * 1000 + w * 100 + round);
                await device.WriteAsync(start / blockSize, data, round % 5 == 0 ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None, ct);
                data.CopyTo(model, start);
                byte[] check = new byte[data.Length];
                await device.ReadAsync(start / blockSize, check, ct);
                Assert.Equal(data, check);
                if (roundsDone is not null) Interlocked.Increment(ref roundsDone[0]);
            }
        })));
    }

    [Fact]
    public async Task Nbdkit_memory_over_tcp_reads_writes_and_reports_its_capabilities()
    {
        using var dir = new TempDir();
        await using var nbdkit = await ExternalNbdServer.NbdkitAsync(dir.Path, tcp: true, "memory", "64M");
        await using var device = await NbdBlockDevice.ConnectAsync(Options(NbdServerAddress.Parse($"nbd://127.0.0.1:{((System.Net.IPEndPoint)nbdkit.Address.EndPoint).Port}/")));
        byte[] model = new byte[64 * Mi];

        await RunWritersAsync(device, model, writers: 16, rounds: 12, seedBase: 1).WaitAsync(Limit);
        await device.FlushAsync();

        Assert.Equal(new BlockGeometry(512, 64 * Mi / 512, 3), device.Geometry);
        var expected = BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.ForceUnitAccess | BlockDeviceCapabilities.WriteZeroes
            | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.Extents
            | BlockDeviceCapabilities.MultiConnection | BlockDeviceCapabilities.NonRotational | BlockDeviceCapabilities.ThinProvisioned;
        Assert.Equal(expected, device.Capabilities);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(model)), Convert.ToHexString(SHA256.HashData(await ReadAllAsync(device))));
    }

    [Fact]
    public async Task Nbdkit_memory_extents_show_data_holes_and_zeroed_ranges()
    {
        using var dir = new TempDir();
        await using var nbdkit = await ExternalNbdServer.NbdkitAsync(dir.Path, tcp: false, "memory", "64M");
        await using var device = await NbdBlockDevice.ConnectAsync(Options(nbdkit.Address));
        await device.WriteAsync(2048, Pattern(2 * Mi, 3));         // 1 MiB .. 3 MiB
        await device.WriteZeroesAsync(4096, 2048, WriteZeroesFlags.MayUnmap);   // 2 MiB .. 3 MiB punched again

        var extents = new BlockExtent[64];
        int n = await device.GetExtentsAsync(0, device.Geometry.BlockCount, extents);

        Assert.Equal(0, extents[0].Lba);
        Assert.Equal(device.Geometry.BlockCount, extents[n - 1].Lba + extents[n - 1].BlockCount);
        BlockExtentFlags At(long lba) => extents[..n].Single(e => e.Lba <= lba && lba < e.Lba + e.BlockCount).Flags;
        Assert.Equal(BlockExtentFlags.Hole | BlockExtentFlags.Zero, At(0));
        Assert.Equal(BlockExtentFlags.Data, At(2048));
        Assert.Equal(BlockExtentFlags.Data, At(4095));
        Assert.True(At(4096).HasFlag(BlockExtentFlags.Zero));
        Assert.Equal(BlockExtentFlags.Hole | BlockExtentFlags.Zero, At(device.Geometry.BlockCount - 1));
    }

    [Fact]
    public async Task A_server_minimum_block_size_of_4096_gives_a_4096_byte_device()
    {
        using var dir = new TempDir();
        await using var nbdkit = await ExternalNbdServer.NbdkitAsync(dir.Path, tcp: false,
            "--filter=blocksize-policy", "memory", "16M", "blocksize-minimum=4096", "blocksize-preferred=65536", "blocksize-maximum=1M");
        await using var device = await NbdBlockDevice.ConnectAsync(Options(nbdkit.Address));
        byte[] data = Pattern(3 * Mi, 4);

        await device.WriteAsync(1, data);
        byte[] read = new byte[data.Length];
        await device.ReadAsync(1, read);

        Assert.Equal(4096, device.Geometry.LogicalBlockSize);
        Assert.Equal(4, device.Geometry.PhysicalBlockExponent);
        Assert.Equal(1u * Mi, device.Export.MaximumPayload);
        Assert.Equal(data, read);
        var e = await Assert.ThrowsAsync<BlockDeviceException>(() =>
            NbdBlockDevice.ConnectAsync(Options(nbdkit.Address, blockSize: 512)));
        Assert.Contains("aligned to 4096 bytes", e.Message);
    }

    [Fact]
    public async Task Nbdkit_errors_come_back_as_medium_errors_and_the_connection_survives()
    {
        using var dir = new TempDir();
        await using var nbdkit = await ExternalNbdServer.NbdkitAsync(dir.Path, tcp: false,
            "--filter=error", "memory", "16M", "error=EIO", "error-pread-rate=1");
        await using var device = await NbdBlockDevice.ConnectAsync(Options(nbdkit.Address));

        await device.WriteAsync(0, Pattern(4096, 5));
        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[4096]).AsTask());

        Assert.Equal(BlockError.MediumError, e.Error);
        Assert.Contains("EIO", e.Message);
        await device.WriteAsync(8, Pattern(4096, 6));
        Assert.Equal(0, device.Reconnects);
    }

    [Fact]
    public async Task A_slow_server_times_requests_out_as_not_ready()
    {
        using var dir = new TempDir();
        await using var nbdkit = await ExternalNbdServer.NbdkitAsync(dir.Path, tcp: false, "--filter=delay", "memory", "16M", "rdelay=10");
        var options = Options(nbdkit.Address);
        await using var device = await NbdBlockDevice.ConnectAsync(new NbdClientOptions
        {
            Address = options.Address,
            RequestTimeout = TimeSpan.FromMilliseconds(500),
            Reconnect = options.Reconnect,
        });
        var started = DateTime.UtcNow;

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[4096]).AsTask().WaitAsync(Limit));

        Assert.Equal(BlockError.NotReady, e.Error);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));
        await device.WriteAsync(0, Pattern(4096, 7)).AsTask().WaitAsync(Limit);   // writes are not delayed
    }

    [Fact]
    public async Task Nbdkit_file_killed_and_restarted_mid_run_loses_nothing()
    {
        using var dir = new TempDir();
        string image = dir.File("disk.raw");
        using (var f = File.Create(image)) f.SetLength(32 * Mi);
        await using var nbdkit = await ExternalNbdServer.NbdkitAsync(dir.Path, tcp: false, "file", image);
        var log = new List<string>();
        await using var device = await NbdBlockDevice.ConnectAsync(Options(nbdkit.Address), l => { lock (log) log.Add(l); });
        byte[] model = new byte[32 * Mi];

        var done = new int[1];
        var writers = RunWritersAsync(device, model, writers: 8, rounds: 40, seedBase: 20, roundsDone: done);
        await UnderWayAsync(done, 8); // mid-run whatever the machine's speed: 8 of 320 rounds done
        int pid = nbdkit.Pid!.Value;
        await nbdkit.KillAsync();
        await Task.Delay(500);
        await nbdkit.StartAsync();
        await writers.WaitAsync(Limit);
        await device.FlushAsync();

        Assert.NotEqual(pid, nbdkit.Pid);
        Assert.True(device.Reconnects >= 1, string.Join("\n", log));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(model)), Convert.ToHexString(SHA256.HashData(await ReadAllAsync(device))));
        Assert.Equal(model, await File.ReadAllBytesAsync(image));
    }

    [Fact]
    public async Task Qemu_nbd_qcow2_survives_a_restart_and_the_image_holds_the_data()
    {
        using var dir = new TempDir();
        string image = dir.File("disk.qcow2");
        var created = await ExternalProcess.RunAsync("qemu-img", ["create", "-f", "qcow2", image, "32M"], Limit);
        Assert.True(created.ExitCode == 0, created.ToString());
        await using var qemu = await ExternalNbdServer.QemuNbdAsync(dir.Path, image, "qcow2", "disk0");
        await using var device = await NbdBlockDevice.ConnectAsync(Options(qemu.Address));
        byte[] model = new byte[32 * Mi];

        await RunWritersAsync(device, model, writers: 4, rounds: 10, seedBase: 30);
        var extents = new BlockExtent[256];
        int n = await device.GetExtentsAsync(0, device.Geometry.BlockCount, extents);
        var done = new int[1];
        var writers = RunWritersAsync(device, model, writers: 4, rounds: 20, seedBase: 31, roundsDone: done);
        await UnderWayAsync(done, 4); // mid-run: 4 of 80 rounds done
        await qemu.KillAsync();
        await Task.Delay(300);
        await qemu.StartAsync();
        await writers.WaitAsync(Limit);
        await device.FlushAsync();
        await device.DisposeAsync();
        await qemu.KillAsync();

        Assert.Equal(device.Geometry.BlockCount, extents[n - 1].Lba + extents[n - 1].BlockCount);
        Assert.Contains(extents[..n], e => e.Flags == BlockExtentFlags.Data);
        Assert.Contains(extents[..n], e => e.Flags.HasFlag(BlockExtentFlags.Zero));
        string raw = dir.File("out.raw");
        var converted = await ExternalProcess.RunAsync("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", image, raw], Limit);
        Assert.True(converted.ExitCode == 0, converted.ToString());
        Assert.Equal(model, await File.ReadAllBytesAsync(raw));
    }

    [Fact]
    public async Task Qemu_nbd_refuses_an_unknown_export_with_a_clear_error()
    {
        using var dir = new TempDir();
        string image = dir.File("disk.raw");
        using (var f = File.Create(image)) f.SetLength(Mi);
        await using var qemu = await ExternalNbdServer.QemuNbdAsync(dir.Path, image, "raw", "disk0");

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() =>
            NbdBlockDevice.ConnectAsync(Options(qemu.Address with { ExportName = "nosuch" })));

        Assert.Equal(BlockError.NotReady, e.Error);
        Assert.Contains("no export 'nosuch'", e.Message);
    }

    [Fact]
    public async Task A_restarted_server_with_a_bigger_export_is_reported()
    {
        using var dir = new TempDir();
        string image = dir.File("disk.raw");
        using (var f = File.Create(image)) f.SetLength(8 * Mi);
        await using var nbdkit = await ExternalNbdServer.NbdkitAsync(dir.Path, tcp: false, "file", image);
        await using var device = await NbdBlockDevice.ConnectAsync(Options(nbdkit.Address));
        var changed = new TaskCompletionSource<NbdExportChangedEventArgs>();
        device.ExportChanged += (_, e) => changed.TrySetResult(e);
        await device.WriteAsync(0, Pattern(4096, 8));

        await nbdkit.KillAsync();
        using (var f = File.OpenWrite(image)) f.SetLength(16 * Mi);
        await nbdkit.StartAsync();
        byte[] read = new byte[4096];
        await device.ReadAsync(0, read).AsTask().WaitAsync(Limit);
        var args = await changed.Task.WaitAsync(Limit);

        Assert.Equal(Pattern(4096, 8), read);
        Assert.Equal(8UL * Mi, args.Previous.SizeBytes);
        Assert.Equal(16UL * Mi, args.Current.SizeBytes);
        Assert.Equal(16 * Mi / 512, device.Geometry.BlockCount);
    }
}
