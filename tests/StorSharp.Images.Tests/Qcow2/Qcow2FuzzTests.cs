using System.IO.Compression;
using StorSharp.Block;
using StorSharp.Images.Qcow2;

namespace StorSharp.Images.Tests.Qcow2;

/// <summary>
/// Randomly damaged images: bytes of the header, refcount structures, L1 and L2 tables are overwritten,
/// then the image is opened, read in full, asked for extents and written. The only acceptable failures are
/// <see cref="DiskImageException"/> and <see cref="BlockDeviceException"/>; nothing may crash or hang.
/// </summary>
public sealed class Qcow2FuzzTests : IDisposable
{
    private const int Cluster = 4096;
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<byte[]> Pristine()
    {
        string path = _dir.File("pristine.qcow2");
        await Qcow2Creator.CreateAsync(path, 1 << 20, Cluster);
        await using (var device = await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions()))
        {
            var data = new byte[64 * 1024];
            new Random(1).NextBytes(data);
            await device.WriteAsync(0, data);
            await device.WriteAsync(1024, data);
            await device.WriteZeroesAsync(16, 8);
        }
        return await File.ReadAllBytesAsync(path);
    }

    [Fact]
    public async Task Damaged_images_fail_cleanly()
    {
        byte[] pristine = await Pristine();
        var random = new Random(1234);
        int opened = 0;
        for (int i = 0; i < 300; i++)
        {
            byte[] image = (byte[])pristine.Clone();
            int flips = 1 + random.Next(4);
            for (int f = 0; f < flips; f++)
            {
                // Mostly metadata: the header cluster, the refcount table and block, the L1 table and the first L2 table.
                int at = random.Next(3) == 0 ? random.Next(image.Length) : random.Next(Math.Min(image.Length, 6 * Cluster));
                image[at] = random.Next(3) switch { 0 => 0xff, 1 => 0, _ => (byte)random.Next(256) };
            }
            string path = _dir.File($"f{i}.qcow2");
            await File.WriteAllBytesAsync(path, image);
            bool writable = i % 2 == 0;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await using var raw = await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = !writable }, timeout.Token);
                opened++;
                var device = new CheckedBlockDevice(raw);
                var buffer = new byte[device.Geometry.SizeBytes > 4 << 20 ? 4 << 20 : device.Geometry.SizeBytes];
                await Tolerate(() => device.ReadAsync(0, buffer, timeout.Token));
                await Tolerate(async () => { await device.GetExtentsAsync(0, device.Geometry.BlockCount, new BlockExtent[64], timeout.Token); });
                if (writable)
                {
                    await Tolerate(() => device.WriteAsync(8, new byte[8192], BlockWriteFlags.None, timeout.Token));
                    await Tolerate(() => device.WriteAsync(2047, new byte[512], BlockWriteFlags.None, timeout.Token));
                    await Tolerate(() => device.UnmapAsync(0, 256, timeout.Token));
                }
            }
            catch (DiskImageException)
            {
            }
        }
        Assert.True(opened > 20, $"only {opened} of 300 damaged images opened: the fuzzing hardly reached the I/O paths");
    }

    private static async Task Tolerate(Func<ValueTask> operation)
    {
        try
        {
            await operation();
        }
        catch (BlockDeviceException)
        {
        }
    }
}
