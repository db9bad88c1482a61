using StorSharp.Block;
using StorSharp.Images.Qcow2;

namespace StorSharp.Images.Tests.Qcow2;

/// <summary>Images made by qemu-img / qemu-io, read through <see cref="DiskImage.OpenAsync(string, DiskImageOpenOptions, CancellationToken)"/>, must read exactly as <c>qemu-img convert -O raw</c> says.</summary>
public sealed class Qcow2OracleReadTests : IDisposable
{
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    internal static async Task<byte[]> ReadAll(IBlockDevice device)
    {
        var bytes = new byte[device.Geometry.SizeBytes];
        var checkedDevice = new CheckedBlockDevice(device, leaveOpen: true);
        const int chunk = 1 << 20;
        for (long at = 0; at < bytes.Length; at += chunk)
        {
            int n = (int)Math.Min(chunk, bytes.Length - at);
            await checkedDevice.ReadAsync(at / device.Geometry.LogicalBlockSize, bytes.AsMemory((int)at, n));
        }
        return bytes;
    }

    private async Task AssertReadsLikeQemu(string path, int blockSize = 512)
    {
        byte[] expected = await QemuTools.RawContents(path, _dir.Path);
        await using IBlockDevice device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true, LogicalBlockSize = blockSize });
        Assert.IsType<Qcow2BlockDevice>(device);
        Assert.Equal(expected.Length, device.Geometry.SizeBytes);
        byte[] actual = await ReadAll(device);
        int diff = actual.AsSpan().CommonPrefixLength(expected);
        Assert.True(diff == expected.Length, $"first difference at byte {diff}");
    }

    /// <summary>Writes in whole clusters, partial clusters, across L2 tables, and zero writes.</summary>
    private static readonly string[] Pattern =
    [
        "write -P 0xab 0 1M",
        "write -P 0x11 1536 3k",
        "write -P 0x22 3M 700k",
        "write -z 3200k 128k",
        "write -P 0x33 7M 512",
        "write -P 0x44 9000k 1M",
    ];

    [QemuTheory]
    [InlineData("0.10", 512)]
    [InlineData("0.10", 4096)]
    [InlineData("0.10", 65536)]
    [InlineData("1.1", 512)]
    [InlineData("1.1", 65536)]
    [InlineData("1.1", 2097152)]
    public async Task Images_written_by_qemu_read_the_same(string compat, int clusterSize)
    {
        string path = _dir.File("disk.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", "-o", $"compat={compat},cluster_size={clusterSize}", path, "12M");
        await QemuTools.Io(path, "qcow2", Pattern);
        await AssertReadsLikeQemu(path);
    }

    [QemuFact]
    public async Task Refcount_widths_other_than_16_bits_read_the_same()
    {
        foreach (int bits in new[] { 1, 8, 64 })
        {
            string path = _dir.File($"r{bits}.qcow2");
            await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", "-o", $"refcount_bits={bits}", path, "4M");
            await QemuTools.Io(path, "qcow2", "write -P 0x5a 100k 300k");
            await AssertReadsLikeQemu(path);
        }
    }

    [QemuFact]
    public async Task Images_read_with_4096_byte_blocks()
    {
        string path = _dir.File("disk.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", path, "12M");
        await QemuTools.Io(path, "qcow2", Pattern);
        await AssertReadsLikeQemu(path, 4096);
    }

    [QemuTheory]
    [InlineData(4096)]
    [InlineData(65536)]
    public async Task Compressed_images_read_the_same(int clusterSize)
    {
        string raw = _dir.File("src.raw");
        await QemuTools.Ok("qemu-img", "create", "-f", "raw", raw, "6M");
        // Compressible and incompressible data, so some clusters compress and some are stored plainly.
        await QemuTools.Io(raw, "raw", "write -P 0xcd 0 2M", "write -P 0x01 2500k 10k");
        byte[] noise = new byte[1 << 20];
        new Random(7).NextBytes(noise);
        using (var f = File.OpenWrite(raw)) { f.Position = 4L << 20; f.Write(noise); }
        string path = _dir.File("c.qcow2");
        await QemuTools.Ok("qemu-img", "convert", "-c", "-O", "qcow2", "-o", $"cluster_size={clusterSize}", raw, path);
        await AssertReadsLikeQemu(path);
    }

    [QemuFact]
    public async Task Backing_chains_read_through_to_the_base()
    {
        string baseRaw = _dir.File("base.raw");
        await QemuTools.Ok("qemu-img", "create", "-f", "raw", baseRaw, "8M");
        await QemuTools.Io(baseRaw, "raw", "write -P 0x61 0 8M");
        string mid = _dir.File("mid.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", "-b", "base.raw", "-F", "raw", mid, "8M");
        await QemuTools.Io(mid, "qcow2", "write -P 0x62 1M 1M", "write -z 4M 64k");
        string top = _dir.File("top.qcow2");
        // A larger top: the part past the base reads as zeros.
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", "-o", "compat=0.10,cluster_size=4096", "-b", mid, "-F", "qcow2", top, "10M");
        await QemuTools.Io(top, "qcow2", "write -P 0x63 1536k 5000", "write -P 0x64 9M 4k");
        await AssertReadsLikeQemu(top);
    }

    [QemuFact]
    public async Task Extents_show_data_zero_clusters_and_holes()
    {
        string path = _dir.File("disk.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", path, "4M");
        await QemuTools.Io(path, "qcow2", "write -P 0x1 0 64k", "write -P 0x2 1M 64k", "write -z 1M 64k");
        await using IBlockDevice device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var extents = new BlockExtent[16];
        int n = await device.GetExtentsAsync(0, device.Geometry.BlockCount, extents);
        Assert.Equal(
            new[]
            {
                new BlockExtent(0, 128, BlockExtentFlags.Data),
                new BlockExtent(128, 2048 - 128, BlockExtentFlags.Hole | BlockExtentFlags.Zero),
                new BlockExtent(2048, 128, BlockExtentFlags.Zero),
                new BlockExtent(2176, 8192 - 2176, BlockExtentFlags.Hole | BlockExtentFlags.Zero),
            },
            extents.Take(n));
    }

    [QemuFact]
    public async Task Extents_of_unallocated_clusters_come_from_the_backing_image()
    {
        string baseImage = _dir.File("base.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", baseImage, "2M");
        await QemuTools.Io(baseImage, "qcow2", "write -P 0x1 512k 64k");
        string top = _dir.File("top.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", "-b", baseImage, "-F", "qcow2", top, "2M");
        await QemuTools.Io(top, "qcow2", "write -P 0x2 0 64k");
        await using IBlockDevice device = await DiskImage.OpenAsync(top, new DiskImageOpenOptions { ReadOnly = true });
        var extents = new BlockExtent[16];
        int n = await device.GetExtentsAsync(0, device.Geometry.BlockCount, extents);
        Assert.Equal(
            new[]
            {
                new BlockExtent(0, 128, BlockExtentFlags.Data),
                new BlockExtent(128, 1024 - 128, BlockExtentFlags.Hole | BlockExtentFlags.Zero),
                new BlockExtent(1024, 128, BlockExtentFlags.Data),
                new BlockExtent(1152, 4096 - 1152, BlockExtentFlags.Hole | BlockExtentFlags.Zero),
            },
            extents.Take(n));
    }
}
