using System.Buffers.Binary;
using System.Text;
using StorSharp.Images.Tests.Mapped;
using StorSharp.Images.Vhd;

namespace StorSharp.Images.Tests.Vhd;

/// <summary>
/// Differencing VHDs. qemu-img cannot make them, so a qemu-made dynamic child is turned into one: disk
/// type 4, a parent name, a W2ru parent locator, and part of a block's sector bitmap cleared so those
/// sectors come from the parent. The expected disk is assembled from qemu's raw conversions of both.
/// </summary>
public sealed class VhdDifferencingTests : IDisposable
{
    private const int Block = 2 << 20;
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private (string Child, byte[] Expected) Make()
    {
        string parent = _dir.File("base.vhd"), child = _dir.File("child.vhd");
        foreach (var p in new[] { parent, child })
            QemuTools.Run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=dynamic,force_size=on", p, "8M");
        QemuTools.Run("qemu-io", "-f", "vpc", "-c", "write -P 0x11 0 4M", "-c", "write -P 0x22 4M 4M", parent);
        QemuTools.Run("qemu-io", "-f", "vpc", "-c", "write -P 0x77 0 64k", "-c", "write -P 0x66 2M 4k", child);
        byte[] parentRaw = QemuTools.ToRaw(parent, "vpc", _dir.File("parent.raw"));
        byte[] childRaw = QemuTools.ToRaw(child, "vpc", _dir.File("child.raw"));

        var bytes = File.ReadAllBytes(child);
        long bat = (long)BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(512 + 16));
        long block0 = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan((int)bat)) * 512L;
        bytes[block0 + 1] = 0; // sectors 8..15 of block 0 (bits of byte 1) now belong to the parent
        var header = bytes.AsSpan(512, 1024);
        Encoding.BigEndianUnicode.GetBytes("base.vhd").CopyTo(header[64..]);
        byte[] path = Encoding.Unicode.GetBytes(".\\base.vhd");
        long locatorAt = bytes.Length - 512; // where the footer was; the footer moves after it
        BinaryPrimitives.WriteUInt32BigEndian(header[576..], VhdDynamicHeader.W2ru);
        BinaryPrimitives.WriteUInt32BigEndian(header[580..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(header[584..], (uint)path.Length);
        BinaryPrimitives.WriteUInt64BigEndian(header[592..], (ulong)locatorAt);
        BinaryPrimitives.WriteUInt32BigEndian(header[36..], VhdFooter.Checksum(header, 36));
        var footer = bytes.AsSpan(0, 512).ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(60), 4);
        BinaryPrimitives.WriteUInt32BigEndian(footer.AsSpan(64), VhdFooter.Checksum(footer, 64));
        footer.CopyTo(bytes, 0);
        var locator = new byte[512];
        path.CopyTo(locator, 0);
        File.WriteAllBytes(child, [.. bytes.AsSpan(0, (int)locatorAt), .. locator, .. footer]);

        var expected = (byte[])parentRaw.Clone();
        for (int sector = 0; sector < Block / 512; sector++)
            if (sector is < 8 or >= 16) childRaw.AsSpan(sector * 512, 512).CopyTo(expected.AsSpan(sector * 512));
        childRaw.AsSpan(Block, Block).CopyTo(expected.AsSpan(Block)); // block 1: all sectors present
        return (child, expected);
    }

    private static async Task<byte[]> ReadAllAsync(string path)
    {
        await using var device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var data = new byte[device.Geometry.SizeBytes];
        await device.ReadAsync(0, data);
        return data;
    }

    [QemuFact]
    public async Task Reads_the_parent_where_the_child_has_no_block_or_a_clear_bitmap_bit()
    {
        var (child, expected) = Make();
        byte[] actual = await ReadAllAsync(child);
        Assert.True(expected.AsSpan().SequenceEqual(actual), "the differencing disk reads differently from its parent overlaid with its own sectors");
    }

    [QemuFact]
    public async Task Writes_set_bitmap_bits_and_allocate_blocks_that_keep_the_parent_elsewhere()
    {
        var (child, expected) = Make();
        var random = new Random(5);
        await using (var device = await DiskImage.OpenAsync(child, new DiskImageOpenOptions()))
        {
            foreach (var (offset, length) in new (int, int)[] { (4096, 4096), ((5 << 20) + 512, 512), ((6 << 20) - 1024, 2048) })
            {
                var data = new byte[length];
                random.NextBytes(data);
                await device.WriteAsync(offset / 512, data);
                data.CopyTo(expected.AsSpan(offset));
            }
            var back = new byte[expected.Length];
            await device.ReadAsync(0, back);
            Assert.True(expected.AsSpan().SequenceEqual(back), "the device does not read back what was written");
        }
        byte[] reopened = await ReadAllAsync(child);
        Assert.True(expected.AsSpan().SequenceEqual(reopened), "the reopened differencing disk lost writes");
        Assert.True(VhdFooter.LooksValid(File.ReadAllBytes(child).AsSpan(^512..)), "the file no longer ends with a footer");
    }

    [QemuFact]
    public async Task A_missing_parent_is_refused_naming_where_it_was_looked_for()
    {
        var (child, _) = Make();
        File.Delete(_dir.File("base.vhd"));
        var e = await Assert.ThrowsAsync<DiskImageException>(async () => await DiskImage.OpenAsync(child, new DiskImageOpenOptions { ReadOnly = true }));
        Assert.Contains("parent image was not found", e.Message);
        Assert.Contains("base.vhd", e.Message);
    }
}
