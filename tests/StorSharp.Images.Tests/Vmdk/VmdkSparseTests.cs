using System.Buffers.Binary;
using StorSharp.Images.Tests.Mapped;

namespace StorSharp.Images.Tests.Vmdk;

public sealed class VmdkSparseTests : IDisposable
{
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private (string Path, byte[] Bytes) Make(string size = "8M")
    {
        string path = _dir.File("s.vmdk");
        QemuTools.Run("qemu-img", "create", "-q", "-f", "vmdk", path, size);
        QemuTools.Run("qemu-io", "-f", "vmdk", "-c", "write -P 0x5a 0 64k", path);
        return (path, File.ReadAllBytes(path));
    }

    private static async Task<string> RefusedAsync(string path, bool readOnly = true)
    {
        var e = await Assert.ThrowsAsync<DiskImageException>(async () => await DiskImage.OpenAsync(path, "vmdk", new DiskImageOpenOptions { ReadOnly = readOnly }));
        Assert.Contains(Path.GetDirectoryName(path)!, e.Message);
        return e.Message;
    }

    [QemuFact]
    public async Task A_grain_table_entry_past_the_end_of_the_file_is_refused()
    {
        var (path, bytes) = Make();
        long gd = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(56)) * 512;
        long gt = (long)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)gd)) * 512;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)gt), 0x7FFF_0000);
        File.WriteAllBytes(path, bytes);
        string message = await RefusedAsync(path);
        Assert.Contains($"grain table at file offset {gt}", message);
        Assert.Contains("outside the file", message);
    }

    [QemuFact]
    public async Task A_bad_version_is_refused()
    {
        var (path, bytes) = Make();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 9);
        File.WriteAllBytes(path, bytes);
        Assert.Contains("version 9", await RefusedAsync(path));
    }

    [QemuFact]
    public async Task A_missing_flat_extent_file_is_refused()
    {
        string path = _dir.File("flat.vmdk");
        QemuTools.Run("qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", path, "1M");
        File.Delete(_dir.File("flat-flat.vmdk"));
        Assert.Contains("does not exist", await RefusedAsync(path));
    }

    [QemuFact]
    public async Task A_truncated_flat_extent_is_refused()
    {
        string path = _dir.File("flat.vmdk");
        QemuTools.Run("qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", path, "1M");
        File.WriteAllBytes(_dir.File("flat-flat.vmdk"), new byte[4096]);
        Assert.Contains("truncated", await RefusedAsync(path));
    }

    [QemuFact]
    public async Task Unallocated_grain_tables_make_the_image_read_only()
    {
        var (path, bytes) = Make("64M"); // two grain tables of 512 64 KiB grains
        long gd = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(56)) * 512;
        long rgd = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(48)) * 512;
        // The second grain table (unused: nothing written there) is dropped from both directories.
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)gd + 4), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)rgd + 4), 0);
        File.WriteAllBytes(path, bytes);
        Assert.Contains("open the image read-only", await RefusedAsync(path, readOnly: false));
        await using var device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var data = new byte[device.Geometry.SizeBytes];
        await device.ReadAsync(0, data);
        Assert.All(data.AsSpan(0, 65536).ToArray(), b => Assert.Equal(0x5a, b));
    }
}
