using StorSharp.Block;

namespace StorSharp.Images.Tests.Mapped;

/// <summary>
/// Damaged images (truncated, bytes flipped in their metadata) must fail with a
/// <see cref="DiskImageException"/> at open, or open and fail reads with a <see cref="BlockDeviceException"/>:
/// never any other exception, a hang or a huge allocation.
/// </summary>
public sealed class CorruptImageTests : IDisposable
{
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string> Images => new()
    {
        { "vpc", "subformat=fixed" },
        { "vpc", "subformat=dynamic" },
        { "vhdx", "subformat=dynamic,block_size=1M" },
        { "vhdx", "subformat=fixed" },
        { "vmdk", "subformat=monolithicSparse" },
    };

    private string Make(string format, string options)
    {
        string path = _dir.File("disk." + format);
        QemuTools.Run("qemu-img", "create", "-q", "-f", format, "-o", options, path, "4M");
        QemuTools.Run("qemu-io", "-f", format, "-c", "write -P 0x5a 0 64k", "-c", "write -P 0xa5 3M 64k", path);
        return path;
    }

    private static async Task OpensCleanlyOrRefusesAsync(string path)
    {
        IBlockDevice device;
        try
        {
            device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        }
        catch (DiskImageException e)
        {
            Assert.Contains(Path.GetFileName(path), e.Message);
            return;
        }
        await using (device)
        {
            var buffer = new byte[64 << 10];
            for (long lba = 0; lba < device.Geometry.BlockCount; lba += buffer.Length / 512)
            {
                int blocks = (int)Math.Min(buffer.Length / 512, device.Geometry.BlockCount - lba);
                try { await device.ReadAsync(lba, buffer.AsMemory(0, blocks * 512)); }
                catch (BlockDeviceException) { }
            }
            var extents = new BlockExtent[16];
            try { await device.GetExtentsAsync(0, device.Geometry.BlockCount, extents); }
            catch (BlockDeviceException) { }
        }
    }

    [QemuTheory]
    [MemberData(nameof(Images))]
    public async Task Truncated_images_are_refused_or_read_safely(string format, string options)
    {
        string original = Make(format, options);
        byte[] bytes = File.ReadAllBytes(original);
        foreach (long cut in new long[] { 0, 7, 511, 512, 1536, 4096, 65536, 200_000, 300_000, 1 << 20, bytes.Length / 2, bytes.Length - 512, bytes.Length - 1 })
        {
            if (cut >= bytes.Length) continue;
            string path = _dir.File($"cut-{cut}." + format);
            File.WriteAllBytes(path, bytes.AsSpan(0, (int)cut).ToArray());
            await OpensCleanlyOrRefusesAsync(path);
        }
    }

    [QemuTheory]
    [MemberData(nameof(Images))]
    public async Task Images_with_flipped_metadata_bytes_are_refused_or_read_safely(string format, string options)
    {
        string original = Make(format, options);
        byte[] bytes = File.ReadAllBytes(original);
        var random = new Random(format.GetHashCode() ^ options.Length);
        // Damage the metadata areas: the first 2 MiB (headers, tables) and the last 1 KiB (footers).
        for (int round = 0; round < 60; round++)
        {
            var damaged = (byte[])bytes.Clone();
            for (int k = 0; k < 4; k++)
            {
                int at = random.Next(2) == 0 ? random.Next(Math.Min(damaged.Length, 2 << 20)) : damaged.Length - 1 - random.Next(Math.Min(1024, damaged.Length));
                damaged[at] ^= (byte)(1 << random.Next(8));
            }
            string path = _dir.File($"flip-{round}." + format);
            File.WriteAllBytes(path, damaged);
            await OpensCleanlyOrRefusesAsync(path);
            File.Delete(path);
        }
    }
}
