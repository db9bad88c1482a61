using StorSharp.Block;
using StorSharp.Images.Qcow2;

namespace StorSharp.Images.Tests.Qcow2;

/// <summary>Writes through our device, then qemu-img is the judge: <c>check</c> must find no errors or leaks and the contents must match a model.</summary>
public sealed class Qcow2OracleWriteTests : IDisposable
{
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Random writes, zeroing and unmaps, mirrored into a byte array; afterwards the image must read as the array.</summary>
    private async Task WriteRandomly(string path, byte[] model, int seed, int operations, DiskImageOpenOptions? options = null)
    {
        var random = new Random(seed);
        await using (IBlockDevice raw = await DiskImage.OpenAsync(path, options ?? new DiskImageOpenOptions()))
        {
            var device = new CheckedBlockDevice(raw);
            int bs = device.Geometry.LogicalBlockSize;
            long blocks = device.Geometry.BlockCount;
            for (int i = 0; i < operations; i++)
            {
                long lba = random.NextInt64(blocks);
                long count = Math.Min(blocks - lba, 1 + random.Next(random.Next(4) == 0 ? 600 : 40));
                int op = random.Next(10);
                if (op < 7)
                {
                    var data = new byte[count * bs];
                    random.NextBytes(data);
                    await device.WriteAsync(lba, data);
                    data.CopyTo(model, lba * bs);
                }
                else
                {
                    if (op == 7) await device.UnmapAsync(lba, count);
                    else await device.WriteZeroesAsync(lba, count, op == 8 ? WriteZeroesFlags.MayUnmap : WriteZeroesFlags.None);
                    Array.Clear(model, (int)(lba * bs), (int)(count * bs));
                }
                if (i % 25 == 0)
                {
                    // Read back through our own device as we go.
                    var back = new byte[count * bs];
                    await device.ReadAsync(lba, back);
                    Assert.True(back.AsSpan().SequenceEqual(model.AsSpan((int)(lba * bs), back.Length)), $"operation {i}: read back differs");
                }
            }
            await device.FlushAsync();
        }
        await QemuTools.Check(path);
        byte[] actual = await QemuTools.RawContents(path, _dir.Path);
        int same = actual.AsSpan().CommonPrefixLength(model);
        Assert.True(same == model.Length, $"qemu reads a difference at byte {same}");
    }

    [QemuTheory]
    [InlineData("0.10", 65536)]
    [InlineData("1.1", 512)]
    [InlineData("1.1", 4096)]
    [InlineData("1.1", 65536)]
    [InlineData("1.1", 2097152)]
    public async Task Random_writes_to_a_new_image_pass_qemu_img_check(string compat, int clusterSize)
    {
        string path = _dir.File("disk.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", "-o", $"compat={compat},cluster_size={clusterSize}", path, "6M");
        await WriteRandomly(path, new byte[6 << 20], seed: clusterSize, operations: 300);
    }

    [QemuFact]
    public async Task Small_clusters_grow_the_refcount_table()
    {
        string path = _dir.File("disk.qcow2");
        // 512-byte clusters: one refcount table cluster covers 64 x 256 clusters = 8 MiB of file.
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=512", path, "16M");
        var model = new byte[16 << 20];
        await using (IBlockDevice device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions()))
        {
            var data = new byte[1 << 20];
            for (int i = 0; i < 16; i++)
            {
                new Random(i).NextBytes(data);
                await device.WriteAsync(i * 2048L, data);
                data.CopyTo(model, i << 20);
            }
        }
        await QemuTools.Check(path);
        Assert.Equal(model, await QemuTools.RawContents(path, _dir.Path));
        string info = await QemuTools.Ok("qemu-img", "info", path);
        Assert.Contains("cluster_size: 512", info);
    }

    [QemuFact]
    public async Task Writes_over_existing_qemu_data_compressed_clusters_and_a_backing_file()
    {
        string baseRaw = _dir.File("base.raw");
        await QemuTools.Ok("qemu-img", "create", "-f", "raw", baseRaw, "4M");
        await QemuTools.Io(baseRaw, "raw", "write -P 0x71 0 4M");
        string src = _dir.File("src.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", "-b", "base.raw", "-F", "raw", src, "4M");
        await QemuTools.Io(src, "qcow2", "write -P 0x72 0 1M", "write -P 0x73 2M 100k");
        // Compress the top layer, keeping the backing file.
        string path = _dir.File("c.qcow2");
        await QemuTools.Ok("qemu-img", "convert", "-c", "-O", "qcow2", "-B", "base.raw", "-F", "raw", src, path);
        string check = await QemuTools.Ok("qemu-img", "check", path);
        Assert.Matches(@"[1-9][0-9.]*% compressed clusters", check); // the writes below meet compressed clusters
        byte[] model = await QemuTools.RawContents(path, _dir.Path);
        await WriteRandomly(path, model, seed: 3, operations: 150);
        byte[] baseAfter = await File.ReadAllBytesAsync(baseRaw);
        Assert.All(baseAfter, b => Assert.Equal(0x71, b));
    }

    [QemuFact]
    public async Task Version_2_image_with_a_backing_file_zeroes_by_writing()
    {
        string baseRaw = _dir.File("base.raw");
        await QemuTools.Ok("qemu-img", "create", "-f", "raw", baseRaw, "2M");
        await QemuTools.Io(baseRaw, "raw", "write -P 0x55 0 2M");
        string path = _dir.File("v2.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", "-o", "compat=0.10", "-b", "base.raw", "-F", "raw", path, "2M");
        byte[] model = await File.ReadAllBytesAsync(baseRaw);
        await WriteRandomly(path, model, seed: 11, operations: 120);
    }

    [QemuFact]
    public async Task Images_we_create_pass_qemu_img_check_and_take_writes()
    {
        string path = _dir.File("ours.qcow2");
        await Qcow2Creator.CreateAsync(path, 5 << 20, clusterSize: 4096);
        await QemuTools.Check(path);
        string info = await QemuTools.Ok("qemu-img", "info", path);
        Assert.Contains("virtual size: 5 MiB", info);
        Assert.Contains("compat: 1.1", info);
        await WriteRandomly(path, new byte[5 << 20], seed: 5, operations: 200);
    }

    [QemuFact]
    public async Task Zeroing_without_unmap_keeps_clusters_allocated_and_unmap_frees_them()
    {
        string path = _dir.File("disk.qcow2");
        await QemuTools.Ok("qemu-img", "create", "-f", "qcow2", path, "2M");
        await QemuTools.Io(path, "qcow2", "write -P 0x9 0 2M");
        await using (IBlockDevice device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions()))
        {
            await device.WriteZeroesAsync(0, 256); // clusters 0-1: zero, still allocated
            await device.UnmapAsync(1024, 256);   // clusters 8-9: zero, freed
            var extents = new BlockExtent[8];
            int n = await device.GetExtentsAsync(0, device.Geometry.BlockCount, extents);
            Assert.Equal(
                new[]
                {
                    new BlockExtent(0, 256, BlockExtentFlags.Zero),
                    new BlockExtent(256, 768, BlockExtentFlags.Data),
                    new BlockExtent(1024, 256, BlockExtentFlags.Hole | BlockExtentFlags.Zero),
                    new BlockExtent(1280, 4096 - 1280, BlockExtentFlags.Data),
                },
                extents.Take(n));
        }
        await QemuTools.Check(path);
        string map = await QemuTools.Ok("qemu-img", "map", "--output=json", path);
        Assert.Contains("\"start\": 0, \"length\": 131072, \"depth\": 0, \"present\": true, \"zero\": true, \"data\": false", map);
    }
}
