using System.Buffers.Binary;
using System.Text;
using StorSharp.Images.Tests.Mapped;
using StorSharp.Images.Vhd;

namespace StorSharp.Images.Tests.Vhd;

public sealed class VhdStructureTests : IDisposable
{
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static byte[] Footer(string creator, ushort cylinders, byte heads, byte sectors, ulong currentSize, uint type = 2)
    {
        var b = new byte[512];
        "conectix"u8.CopyTo(b);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(12), 0x00010000);
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(16), ulong.MaxValue);
        Encoding.Latin1.GetBytes(creator).CopyTo(b, 28);
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(40), currentSize);
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(48), currentSize);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(56), (uint)cylinders << 16 | (uint)heads << 8 | sectors);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(60), type);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(64), VhdFooter.Checksum(b, 64));
        return b;
    }

    [Fact]
    public void Checksum_is_the_ones_complement_of_the_byte_sum_without_the_field()
    {
        var b = new byte[16];
        b[0] = 1; b[1] = 2; b[8] = 0xFF; b[9] = 0xFF; b[10] = 0xFF; b[11] = 0xFF; b[15] = 3;
        Assert.Equal(~6u, VhdFooter.Checksum(b, 8));
    }

    [Fact]
    public void A_footer_with_a_wrong_checksum_is_refused()
    {
        var b = Footer("win ", 100, 16, 63, 50 << 20);
        Assert.NotNull(VhdFooter.TryParse(b, out _));
        b[48] ^= 1;
        Assert.Null(VhdFooter.TryParse(b, out string error));
        Assert.Contains("checksum", error);
    }

    [Theory]
    [InlineData("vpc ", 100, 16, 63, 100L * 16 * 63 * 512)]  // Virtual PC: CHS
    [InlineData("qemu", 100, 16, 63, 100L * 16 * 63 * 512)]  // older qemu: CHS
    [InlineData("qem2", 100, 16, 63, 50L << 20)]             // qemu force_size: Current Size
    [InlineData("win ", 100, 16, 63, 50L << 20)]             // Hyper-V: Current Size
    [InlineData("vpc ", 65535, 16, 255, 50L << 20)]          // maximum geometry: Current Size
    public void Disk_size_follows_the_creator_like_qemu(string creator, int cylinders, int heads, int sectors, long expected)
    {
        var footer = VhdFooter.TryParse(Footer(creator, (ushort)cylinders, (byte)heads, (byte)sectors, 50UL << 20), out _)!;
        Assert.Equal(expected, footer.VirtualSize);
    }

    private string MakeDynamic()
    {
        string path = _dir.File("d.vhd");
        QemuTools.Run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=dynamic", path, "8M");
        QemuTools.Run("qemu-io", "-f", "vpc", "-c", "write -P 0x5a 0 64k", path);
        return path;
    }

    private static async Task<string> RefusedAsync(string path)
    {
        var e = await Assert.ThrowsAsync<DiskImageException>(async () => await DiskImage.OpenAsync(path, "vhd", new DiskImageOpenOptions { ReadOnly = true }));
        Assert.Contains(path, e.Message);
        return e.Message;
    }

    [QemuFact]
    public async Task A_BAT_entry_past_the_end_of_the_file_is_refused_naming_the_entry()
    {
        string path = MakeDynamic();
        var bytes = File.ReadAllBytes(path);
        long bat = (long)BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(512 + 16));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan((int)bat), 0x00FF_0000);
        File.WriteAllBytes(path, bytes);
        string message = await RefusedAsync(path);
        Assert.Contains("block allocation table", message);
        Assert.Contains($"file offset {bat}", message);
        Assert.Contains("past the end", message);
    }

    [QemuFact]
    public async Task A_damaged_dynamic_header_is_refused()
    {
        string path = MakeDynamic();
        var bytes = File.ReadAllBytes(path);
        bytes[512 + 32] ^= 0x10; // block size, without fixing the checksum
        File.WriteAllBytes(path, bytes);
        Assert.Contains("dynamic header at file offset 512: checksum", await RefusedAsync(path));
    }

    [QemuFact]
    public async Task A_truncated_dynamic_image_is_refused()
    {
        string path = MakeDynamic();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length - 40_000).ToArray());
        Assert.Contains("past the end", await RefusedAsync(path));
    }

    [QemuFact]
    public async Task A_differencing_VHD_without_a_parent_is_refused_with_the_reason()
    {
        string path = MakeDynamic();
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(60), 4);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(64), VhdFooter.Checksum(bytes.AsSpan(0, 512), 64));
        File.WriteAllBytes(path, bytes);
        Assert.Contains("differencing disk without parent locators", await RefusedAsync(path));
    }

    [QemuFact]
    public async Task A_fixed_VHD_is_recognised_by_its_footer_alone()
    {
        string path = _dir.File("f.vhd");
        QemuTools.Run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed", path, "1M");
        Assert.Equal("vhd", (await DiskImage.DetectAsync(path))?.Name);
        var bytes = File.ReadAllBytes(path);
        bytes[^512] ^= 1; // the cookie: now it is just a raw file
        File.WriteAllBytes(path, bytes);
        Assert.Null(await DiskImage.DetectAsync(path));
    }
}
