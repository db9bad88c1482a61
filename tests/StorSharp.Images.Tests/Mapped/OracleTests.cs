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
}
