using StorSharp.Block;

namespace StorSharp.Images.Tests.Mapped;

/// <summary>
/// Images made and filled by the real qemu-img / qemu-io are read through <see cref="DiskImage"/> and
/// compared with qemu-img's own raw conversion; images written through our device are checked and
/// compared by qemu-img.
/// </summary>
public sealed class OracleTests : IDisposable
{
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>qemu format, creation options, our format name.</summary>
    public static TheoryData<string, string, string> Images => new()
    {
        { "vpc", "subformat=fixed", "vhd" },
        { "vpc", "subformat=dynamic", "vhd" },
        { "vpc", "subformat=dynamic,force_size=on", "vhd" },
        { "vhdx", "subformat=fixed", "vhdx" },
        { "vhdx", "subformat=dynamic", "vhdx" },
        { "vhdx", "subformat=dynamic,block_size=1M", "vhdx" },
        { "vhdx", "subformat=dynamic,block_size=8M,block_state_zero=off", "vhdx" },
        { "vmdk", "subformat=monolithicSparse", "vmdk" },
        { "vmdk", "subformat=monolithicSparse,zeroed_grain=on", "vmdk" },
        { "vmdk", "subformat=monolithicFlat", "vmdk" },
        { "vmdk", "subformat=twoGbMaxExtentFlat", "vmdk" },
        { "vmdk", "subformat=twoGbMaxExtentSparse", "vmdk" },
    };

    private string MakeImage(string format, string options, long size = 12 << 20)
    {
        string path = _dir.File("disk." + format);
        QemuTools.Run("qemu-img", "create", "-q", "-f", format, "-o", options, path, size.ToString());
        // Data at the start, across a 2 MiB block boundary, and near the end; the rest never written.
        QemuTools.Run("qemu-io", "-f", format, "-c", "write -P 0x5a 1M 64k", "-c", "write -P 0xa5 2016k 64k", "-c", $"write -P 0x33 {size - (1 << 20)} 4k", "-c", "write -P 0x01 0 512", path);
        return path;
    }

    [QemuTheory]
    [MemberData(nameof(Images))]
    public async Task Reads_what_qemu_wrote(string format, string options, string ours)
    {
        string path = MakeImage(format, options);
        byte[] expected = QemuTools.ToRaw(path, format, _dir.File("expected.raw"));
        Assert.Equal(QemuTools.VirtualSize(path, format), expected.Length);
        Assert.Equal(ours, (await DiskImage.DetectAsync(path))?.Name);
        await using var device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        Assert.Equal(expected.Length, device.Geometry.SizeBytes);
        var actual = new byte[expected.Length];
        await device.ReadAsync(0, actual);
        Assert.True(expected.AsSpan().SequenceEqual(actual), "the image reads differently from qemu-img's raw conversion");
    }

    [QemuTheory]
    [MemberData(nameof(Images))]
    public async Task Writes_are_what_qemu_reads(string format, string options, string ours)
    {
        string path = MakeImage(format, options);
        string rawPath = _dir.File("expected.raw");
        byte[] expected = QemuTools.ToRaw(path, format, rawPath);
        var random = new Random(7);
        await using (var device = await DiskImage.OpenAsync(path, ours, new DiskImageOpenOptions()))
        {
            // In place (already allocated), into unallocated blocks, across block boundaries, the last block.
            foreach (var (offset, length) in new (long, int)[] { (1 << 20, 8192), (5 << 20, 4096), ((4 << 20) - 4096, 16384), (7 << 20, 3 << 20), (expected.Length - 512, 512) })
            {
                var data = new byte[length];
                random.NextBytes(data);
                await device.WriteAsync(offset / 512, data);
                data.CopyTo(expected.AsSpan((int)offset));
            }
            await device.FlushAsync();
            var back = new byte[expected.Length];
            await device.ReadAsync(0, back);
            Assert.True(expected.AsSpan().SequenceEqual(back), "the device does not read back what was written");
        }
        File.WriteAllBytes(rawPath, expected);
        if (format != "vpc") QemuTools.Run("qemu-img", "check", "-f", format, path);
        QemuTools.Run("qemu-img", "compare", "-f", format, "-F", "raw", path, rawPath);
    }

    [QemuTheory]
    [InlineData("vpc", "subformat=dynamic")]
    [InlineData("vhdx", "subformat=dynamic,block_size=1M,block_state_zero=off")]
    [InlineData("vmdk", "subformat=monolithicSparse")]
    public async Task Extents_show_holes_where_nothing_was_written(string format, string options)
    {
        string path = MakeImage(format, options);
        await using var device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var extents = new BlockExtent[64];
        int n = await device.GetExtentsAsync(0, device.Geometry.BlockCount, extents);
        long blocks = extents.Take(n).Sum(e => e.BlockCount);
        Assert.Equal(device.Geometry.BlockCount, blocks);
        long dataLba = (1 << 20) / 512;
        Assert.Contains(extents.Take(n), e => e.Flags == BlockExtentFlags.Data && e.Lba <= dataLba && e.Lba + e.BlockCount > dataLba);
        long holeLba = (6 << 20) / 512; // never written: a hole that reads as zeros
        Assert.Contains(extents.Take(n), e => e.Flags == (BlockExtentFlags.Hole | BlockExtentFlags.Zero) && e.Lba <= holeLba && e.Lba + e.BlockCount > holeLba);
    }

    [QemuFact]
    public async Task Vhdx_zero_blocks_are_reported_as_zero()
    {
        // qemu-img creates dynamic VHDX blocks in the ZERO state by default (block_state_zero=on).
        string path = MakeImage("vhdx", "subformat=dynamic,block_size=1M");
        await using var device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var extents = new BlockExtent[64];
        int n = await device.GetExtentsAsync(0, device.Geometry.BlockCount, extents);
        long zeroLba = (6 << 20) / 512;
        Assert.Contains(extents.Take(n), e => e.Flags == BlockExtentFlags.Zero && e.Lba <= zeroLba && e.Lba + e.BlockCount > zeroLba);
    }

    private byte[] RandomRaw(string path, long size)
    {
        // Random data in some 64 KiB pieces, zeros elsewhere: compressed and unallocated grains both appear.
        var raw = new byte[size];
        var random = new Random(11);
        for (long at = 0; at < size; at += 192 << 10)
            random.NextBytes(raw.AsSpan((int)at, 64 << 10));
        File.WriteAllBytes(path, raw);
        return raw;
    }

    [QemuFact]
    public async Task StreamOptimized_vmdk_reads_like_qemu_and_refuses_writes()
    {
        string rawPath = _dir.File("source.raw"), path = _dir.File("stream.vmdk");
        byte[] raw = RandomRaw(rawPath, 12 << 20);
        QemuTools.Run("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", rawPath, path);
        await using (var device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true }))
        {
            Assert.Equal(raw.Length, device.Geometry.SizeBytes);
            var actual = new byte[raw.Length];
            // Odd-sized reads that start and end inside compressed grains.
            for (int at = 0; at < raw.Length; at += 24 * 512)
                await device.ReadAsync(at / 512, actual.AsMemory(at, Math.Min(24 * 512, raw.Length - at)));
            Assert.True(raw.AsSpan().SequenceEqual(actual), "streamOptimized VMDK reads differently from its source");
        }
        var e = await Assert.ThrowsAsync<DiskImageException>(async () => await DiskImage.OpenAsync(path, new DiskImageOpenOptions()));
        Assert.Contains("read-only", e.Message);
    }

    [QemuFact]
    public async Task Vmdk_delta_disk_reads_its_parent_and_writes_copy_the_rest_of_the_grain()
    {
        string rawPath = _dir.File("base.raw"), basePath = _dir.File("base.vmdk"), child = _dir.File("child.vmdk");
        RandomRaw(rawPath, 12 << 20);
        QemuTools.Run("qemu-img", "convert", "-f", "raw", "-O", "vmdk", rawPath, basePath);
        QemuTools.Run("qemu-img", "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", child);
        QemuTools.Run("qemu-io", "-f", "vmdk", "-c", "write -P 0x77 1M 4k", child);
        byte[] expected = QemuTools.ToRaw(child, "vmdk", _dir.File("expected.raw"));
        await using (var device = await DiskImage.OpenAsync(child, new DiskImageOpenOptions()))
        {
            var actual = new byte[expected.Length];
            await device.ReadAsync(0, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), "the delta disk reads differently from qemu-img's conversion");
            // 512 bytes into a grain the child does not have: the other 63.5 KiB must come from the parent.
            var data = new byte[512];
            new Random(3).NextBytes(data);
            await device.WriteAsync((3 << 20) / 512 + 5, data);
            data.CopyTo(expected.AsSpan((3 << 20) + 5 * 512));
        }
        File.WriteAllBytes(_dir.File("expected.raw"), expected);
        QemuTools.Run("qemu-img", "check", "-f", "vmdk", child);
        QemuTools.Run("qemu-img", "compare", "-f", "vmdk", "-F", "raw", child, _dir.File("expected.raw"));
        Assert.True(new FileInfo(basePath).Length > 0);
    }
}
