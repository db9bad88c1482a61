using StorSharp.Block;
using StorSharp.Block.Tests;
using StorSharp.Images.Overlay;
using StorSharp.Images.Tests.Qcow2;

namespace StorSharp.Images.Tests.Overlay;

/// <summary>The block device contract over an overlay on a never-written RAM base.</summary>
public sealed class CopyOnWriteOverlayContractTests : BlockDeviceContractTests
{
    private readonly ImageDirectory _dir = new();

    protected override int BlockSize => 512;

    protected override IBlockDevice CreateBackend() =>
        CopyOnWriteOverlay.OpenAsync(new RamBlockDevice(DeviceBytes, BlockSize), _dir.File("overlay.qcow2")).AsTask().GetAwaiter().GetResult();

    protected override void Cleanup() => _dir.Dispose();
}

/// <summary>What the overlay promises: the base is never written (except by merge), discard goes back to it, merge writes into it.</summary>
public sealed class CopyOnWriteOverlayTests : IDisposable
{
    private const long Size = 4L << 20;
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static async Task<RamBlockDevice> Base(byte fill)
    {
        var ram = new RamBlockDevice(Size);
        await ram.WriteAsync(0, Enumerable.Repeat(fill, (int)Size).ToArray());
        return ram;
    }

    private static async Task<byte[]> ReadAll(IBlockDevice device)
    {
        var bytes = new byte[device.Geometry.SizeBytes];
        await device.ReadAsync(0, bytes);
        return bytes;
    }

    [Fact]
    public async Task Writes_unmaps_and_zeroing_change_the_overlay_only()
    {
        var ram = await Base(0x77);
        await using var overlay = await CopyOnWriteOverlay.OpenAsync(ram, _dir.File("o.qcow2"), new() { LeaveBaseOpen = true });
        var device = new CheckedBlockDevice(overlay, leaveOpen: true);
        await device.WriteAsync(3, Enumerable.Repeat((byte)0x01, 1024).ToArray());
        await device.UnmapAsync(1024, 300);           // whole and partial clusters
        await device.WriteZeroesAsync(4000, 1000, WriteZeroesFlags.None);
        byte[] seen = await ReadAll(device);
        Assert.All(seen.AsSpan(3 * 512, 1024).ToArray(), b => Assert.Equal(1, b));
        Assert.All(seen.AsSpan(1024 * 512, 300 * 512).ToArray(), b => Assert.Equal(0, b));
        Assert.All(seen.AsSpan(4000 * 512, 1000 * 512).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(0x77, seen[0]);
        Assert.Equal(0x77, seen[1324 * 512]);
        Assert.Equal(0x77, seen[^1]);
        Assert.All(await ReadAll(ram), b => Assert.Equal(0x77, b));
    }

    [Fact]
    public async Task Discard_goes_back_to_the_base()
    {
        var ram = await Base(0x42);
        await using var overlay = await CopyOnWriteOverlay.OpenAsync(ram, _dir.File("o.qcow2"));
        await overlay.WriteAsync(0, new byte[65536]);
        await overlay.UnmapAsync(500, 2000);
        Assert.Equal(0, (await ReadAll(overlay))[0]);
        await overlay.DiscardAsync();
        Assert.All(await ReadAll(overlay), b => Assert.Equal(0x42, b));
        await overlay.WriteAsync(8, Enumerable.Repeat((byte)9, 512).ToArray());
        Assert.Equal(9, (await ReadAll(overlay))[8 * 512]);
    }

    [Fact]
    public async Task Merge_writes_the_changes_into_the_base_and_empties_the_overlay()
    {
        var ram = await Base(0x10);
        await using var overlay = await CopyOnWriteOverlay.OpenAsync(ram, _dir.File("o.qcow2"), new() { LeaveBaseOpen = true, ClusterSize = 4096 });
        var data = new byte[10000 * 512 / 100];
        new Random(1).NextBytes(data);
        await overlay.WriteAsync(77, data);
        await overlay.WriteZeroesAsync(2048, 2048, WriteZeroesFlags.MayUnmap);
        byte[] expected = await ReadAll(overlay);
        await overlay.MergeAsync();
        Assert.Equal(expected, await ReadAll(ram));
        Assert.Equal(expected, await ReadAll(overlay));
        Assert.True(new FileInfo(overlay.OverlayPath).Length < 64 * 1024, "the overlay file was emptied");
    }

    [Fact]
    public async Task Merge_into_a_read_only_base_is_refused()
    {
        var ram = new RamBlockDevice(Size, readOnly: true);
        await using var overlay = await CopyOnWriteOverlay.OpenAsync(ram, _dir.File("o.qcow2"));
        await overlay.WriteAsync(0, new byte[512]);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => overlay.MergeAsync());
        Assert.Contains("read-only", e.Message);
    }

    [Fact]
    public async Task An_overlay_file_is_reopened_with_its_changes()
    {
        var ram = await Base(0x33);
        string path = _dir.File("o.qcow2");
        await using (var overlay = await CopyOnWriteOverlay.OpenAsync(ram, path, new() { LeaveBaseOpen = true }))
            await overlay.WriteAsync(100, Enumerable.Repeat((byte)0x44, 512).ToArray());
        await using (var overlay = await CopyOnWriteOverlay.OpenAsync(ram, path, new() { LeaveBaseOpen = true }))
        {
            byte[] all = await ReadAll(overlay);
            Assert.Equal(0x44, all[100 * 512]);
            Assert.Equal(0x33, all[101 * 512]);
        }
    }

    [Fact]
    public async Task An_overlay_of_another_size_is_refused()
    {
        string path = _dir.File("o.qcow2");
        await using (await CopyOnWriteOverlay.OpenAsync(new RamBlockDevice(Size), path)) { }
        var e = await Assert.ThrowsAsync<DiskImageException>(async () => await CopyOnWriteOverlay.OpenAsync(new RamBlockDevice(2 * Size), path));
        Assert.Contains("virtual size", e.Message);
    }

    [QemuFact]
    public async Task Qemu_sees_the_overlay_over_a_raw_base_file_as_the_whole_disk()
    {
        string basePath = _dir.File("base.raw");
        await QemuTools.Ok("qemu-img", "create", "-f", "raw", basePath, "4M");
        await QemuTools.Io(basePath, "raw", "write -P 0x5 0 4M");
        string overlayPath = _dir.File("o.qcow2");
        var baseDevice = FileBlockDevice.Open(basePath, readOnly: true);
        byte[] expected;
        await using (var overlay = await CopyOnWriteOverlay.OpenAsync(baseDevice, overlayPath, new() { BasePath = basePath, BaseFormat = "raw" }))
        {
            await overlay.WriteAsync(10, Enumerable.Repeat((byte)0xee, 70000 / 512 * 512).ToArray());
            await overlay.UnmapAsync(4096, 2048);
            expected = await ReadAll(overlay);
        }
        await QemuTools.Check(overlayPath);
        Assert.Equal(expected, await QemuTools.RawContents(overlayPath, _dir.Path));
        Assert.All(await File.ReadAllBytesAsync(basePath), b => Assert.Equal(5, b));
    }
}
