using System.Buffers.Binary;
using System.IO.Compression;
using StorSharp.Block;
using StorSharp.Images.Qcow2;

namespace StorSharp.Images.Tests.Qcow2;

/// <summary>
/// Corrupt, truncated and unsupported images, built with <see cref="Qcow2Creator"/> and then patched: each must fail
/// with a <see cref="DiskImageException"/> (at open) or a <see cref="BlockDeviceException"/> (at I/O) whose message
/// names the structure and offset; never a crash, a hang or a huge allocation.
/// </summary>
public sealed class Qcow2CorruptImageTests : IDisposable
{
    private const int Cluster = 4096;
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A 1 MiB v3 image with 4 KiB clusters (header, refcount table, refcount block, L1 at clusters 0-3) and one written cluster.</summary>
    private async Task<string> Image()
    {
        string path = _dir.File(Guid.NewGuid().ToString("N") + ".qcow2");
        await Qcow2Creator.CreateAsync(path, 1 << 20, Cluster);
        await using (var device = await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions()))
            await device.WriteAsync(8, Enumerable.Repeat((byte)0x5a, 4096).ToArray());
        return path;
    }

    private static void Patch(string path, long offset, Action<Span<byte>> patch, int length = 8)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var bytes = new byte[length];
        f.Position = offset;
        f.ReadExactly(bytes);
        patch(bytes);
        f.Position = offset;
        f.Write(bytes);
    }

    private static void PatchU32(string path, long offset, uint value) => Patch(path, offset, b => BinaryPrimitives.WriteUInt32BigEndian(b, value), 4);

    private static void PatchU64(string path, long offset, ulong value) => Patch(path, offset, b => BinaryPrimitives.WriteUInt64BigEndian(b, value));

    private static async Task<string> OpenFails(string path, bool readOnly = true)
    {
        var e = await Assert.ThrowsAsync<DiskImageException>(async () =>
            await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = readOnly }));
        Assert.Contains(path, e.Message);
        return e.Message;
    }

    [Fact]
    public async Task A_good_image_reads_back_what_was_written()
    {
        string path = await Image();
        await using var device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var block = new byte[4096];
        await device.ReadAsync(8, block);
        Assert.All(block, b => Assert.Equal(0x5a, b));
        await device.ReadAsync(0, block);
        Assert.All(block, b => Assert.Equal(0, b));
        Assert.True(device.Capabilities.HasFlag(BlockDeviceCapabilities.ReadOnly));
    }

    [Fact]
    public async Task Header_fields_are_parsed()
    {
        string path = _dir.File("h.qcow2");
        await Qcow2Creator.CreateAsync(path, 3 << 20, 65536, backingFile: "base.raw", backingFormat: "raw");
        byte[] head = File.ReadAllBytes(path).AsSpan(0, 65536).ToArray();
        var header = Qcow2Header.Parse(path, head, new FileInfo(path).Length);
        Assert.Equal(3, header.Version);
        Assert.Equal(16, header.ClusterBits);
        Assert.Equal(3L << 20, header.Size);
        Assert.Equal(1, header.L1Size);
        Assert.Equal(3L * 65536, header.L1TableOffset);
        Assert.Equal(65536, header.RefcountTableOffset);
        Assert.Equal(16, header.RefcountBits);
        Assert.Equal("base.raw", header.BackingFile);
        Assert.Equal("raw", header.BackingFormat);
    }

    [Fact]
    public async Task Bad_magic_is_refused_and_not_probed_as_qcow2()
    {
        string path = await Image();
        PatchU32(path, 0, 0x514649FA);
        Assert.Contains("magic 0x514649FA", await OpenFails(path));
        Assert.Null(await DiskImage.DetectAsync(path));
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(4u)]
    public async Task Unknown_versions_are_refused(uint version)
    {
        string path = await Image();
        PatchU32(path, 4, version);
        Assert.Contains($"version {version} is not supported", await OpenFails(path));
    }

    [Theory]
    [InlineData(8u)]
    [InlineData(22u)]
    [InlineData(63u)]
    public async Task Cluster_bits_out_of_range_are_refused(uint bits)
    {
        string path = await Image();
        PatchU32(path, 20, bits);
        Assert.Contains($"cluster_bits {bits} is outside 9..21", await OpenFails(path));
    }

    [Fact]
    public async Task An_L1_table_past_the_end_of_the_file_is_refused()
    {
        string path = await Image();
        PatchU64(path, 40, 1UL << 40);
        Assert.Contains("L1 table at offset 0x10000000000", await OpenFails(path));
    }

    [Fact]
    public async Task A_huge_L1_size_is_refused_without_allocating_it()
    {
        string path = await Image();
        PatchU32(path, 36, 0xFFFFFFFF);
        Assert.Contains("L1 size 4294967295", await OpenFails(path));
    }

    [Fact]
    public async Task An_L1_too_small_for_the_virtual_size_is_refused()
    {
        string path = await Image();
        PatchU64(path, 24, 1UL << 40);
        Assert.Contains("too small for a virtual size", await OpenFails(path));
    }

    [Fact]
    public async Task A_refcount_table_overlapping_the_L1_table_is_refused()
    {
        string path = await Image();
        PatchU64(path, 48, 3 * Cluster);
        Assert.Contains("refcount table at offset 0x3000 overlaps the L1 table", await OpenFails(path));
    }

    [Fact]
    public async Task A_refcount_block_overlapping_the_L1_table_is_refused_for_writing()
    {
        string path = await Image();
        PatchU64(path, Cluster, 3 * Cluster); // refcount table entry 0 -> the L1 table's cluster
        Assert.Contains("refcount block 0x3000", await OpenFails(path, readOnly: false));
    }

    [Fact]
    public async Task A_misaligned_L1_offset_is_refused()
    {
        string path = await Image();
        PatchU64(path, 40, 3 * Cluster + 8);
        Assert.Contains("header at offset 40", await OpenFails(path));
    }

    [Fact]
    public async Task An_L2_table_outside_the_file_is_refused()
    {
        string path = await Image();
        PatchU64(path, 3 * Cluster, (1UL << 63) | (1UL << 36));
        Assert.Contains("L1 table entry 0 at offset 0x3000", await OpenFails(path));
    }

    [Fact]
    public async Task An_L2_table_on_top_of_the_header_is_refused()
    {
        string path = await Image();
        PatchU64(path, 3 * Cluster, (1UL << 63) | Cluster); // points at the refcount table
        Assert.Contains("overlaps", await OpenFails(path));
    }

    [Fact]
    public async Task A_data_cluster_past_the_end_of_the_file_fails_the_read_naming_it()
    {
        string path = await Image();
        long l2 = L2TableOffset(path);
        PatchU64(path, l2 + 8, (1UL << 63) | (1UL << 30)); // guest cluster 1 -> 1 GiB
        await using var device = await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var e = await Assert.ThrowsAsync<BlockDeviceException>(async () => await device.ReadAsync(8, new byte[4096]));
        Assert.Equal(BlockError.MediumError, e.Error);
        Assert.Contains("data cluster offset 0x40000000", e.Message);
        Assert.IsType<DiskImageException>(e.InnerException);
    }

    [Theory]
    [InlineData(7, "unknown")]
    [InlineData(2, "external data file")]
    [InlineData(4, "extended L2 entries")]
    public async Task Unsupported_incompatible_features_are_refused_naming_the_bit(int bit, string name)
    {
        string path = await Image();
        PatchU64(path, 72, 1UL << bit);
        string message = await OpenFails(path);
        Assert.Contains($"incompatible feature bit {bit} ({name})", message);
    }

    [Fact]
    public async Task Encrypted_images_are_refused()
    {
        string path = await Image();
        PatchU32(path, 32, 1);
        Assert.Contains("crypt_method 1", await OpenFails(path));
    }

    [Theory]
    [InlineData(0, "dirty")]
    [InlineData(1, "corrupt")]
    public async Task Dirty_or_corrupt_images_open_only_read_only(int bit, string word)
    {
        string path = await Image();
        PatchU64(path, 72, 1UL << bit);
        Assert.Contains($"is marked {word}", await OpenFails(path, readOnly: false));
        await using var device = await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var block = new byte[512];
        await device.ReadAsync(8, block);
        Assert.Equal(0x5a, block[0]);
    }

    [Theory]
    [InlineData(50)]
    [InlineData(100)]
    [InlineData(3 * Cluster + 4)]
    [InlineData(5 * Cluster)]
    public async Task Truncated_images_are_refused_or_fail_reads_cleanly(int length)
    {
        string path = await Image();
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(length);
        try
        {
            await using var device = await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
            // Opened (the tables were intact): reading the lost data cluster must fail, not return garbage.
            var e = await Assert.ThrowsAsync<BlockDeviceException>(async () => await device.ReadAsync(8, new byte[4096]));
            Assert.Contains(path, e.Message);
        }
        catch (DiskImageException e)
        {
            Assert.Matches("truncated|past the end|outside the file", e.Message);
        }
    }

    [Fact]
    public async Task Garbage_in_a_compressed_cluster_fails_the_read()
    {
        string path = await Image();
        long l2 = L2TableOffset(path);
        long host = new FileInfo(path).Length;
        using (var f = new FileStream(path, FileMode.Open)) { f.Position = host; f.Write(Enumerable.Repeat((byte)0xff, 512).ToArray()); }
        PatchU64(path, l2 + 8 * 5, (1UL << 62) | (ulong)host); // guest cluster 5, one 512-byte sector
        await using var device = await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var e = await Assert.ThrowsAsync<BlockDeviceException>(async () => await device.ReadAsync(40, new byte[512]));
        Assert.Contains($"compressed cluster at host offset 0x{host:X}", e.Message);
    }

    [Fact]
    public async Task A_compressed_cluster_we_deflate_reads_back()
    {
        string path = await Image();
        long l2 = L2TableOffset(path);
        var plain = new byte[Cluster];
        for (int i = 0; i < plain.Length; i++) plain[i] = (byte)(i / 100);
        var packed = new MemoryStream();
        using (var deflate = new DeflateStream(packed, CompressionLevel.Optimal, leaveOpen: true)) deflate.Write(plain);
        long host = new FileInfo(path).Length + 100; // compressed data need not be sector aligned
        using (var f = new FileStream(path, FileMode.Open)) { f.Position = host; f.Write(packed.ToArray()); }
        int x = 62 - (12 - 8);
        long sectors = (host % 512 + packed.Length + 511) / 512;
        PatchU64(path, l2 + 8 * 6, (1UL << 62) | ((ulong)(sectors - 1) << x) | (ulong)host);
        await using var device = await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var read = new byte[Cluster];
        await device.ReadAsync(48, read);
        Assert.Equal(plain, read);
    }

    [Fact]
    public async Task A_backing_file_that_loops_back_is_refused()
    {
        string path = _dir.File("loop.qcow2");
        await Qcow2Creator.CreateAsync(path, 1 << 20, Cluster, backingFile: "loop.qcow2");
        string message = await OpenFails(path);
        Assert.True(message.Contains("backing chain is deeper than"), message);
    }

    [Fact]
    public async Task A_missing_backing_file_is_named()
    {
        string path = _dir.File("orphan.qcow2");
        await Qcow2Creator.CreateAsync(path, 1 << 20, Cluster, backingFile: "gone.raw", backingFormat: "raw");
        Assert.Contains("backing file 'gone.raw'", await OpenFails(path));
    }

    [Fact]
    public async Task A_backing_file_whose_contents_contradict_the_named_format_is_refused()
    {
        // A "raw" base whose first bytes are a qcow2 header must not be read as qcow2.
        await Qcow2Creator.CreateAsync(_dir.File("base.raw"), 1 << 20, Cluster);
        string path = _dir.File("top.qcow2");
        await Qcow2Creator.CreateAsync(path, 1 << 20, Cluster, backingFile: "base.raw", backingFormat: "raw");
        Assert.Contains("'base.raw' is qcow2 by its contents but the image's backing format extension says raw", await OpenFails(path));
    }

    [Fact]
    public async Task Writes_to_a_read_only_open_are_refused()
    {
        string path = await Image();
        await using var device = await Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var e = await Assert.ThrowsAsync<BlockDeviceException>(async () => await device.WriteAsync(0, new byte[512]));
        Assert.Equal(BlockError.ReadOnly, e.Error);
    }

    private static long L2TableOffset(string path)
    {
        using var f = File.OpenRead(path);
        var entry = new byte[8];
        f.Position = 3 * Cluster;
        f.ReadExactly(entry);
        return (long)(BinaryPrimitives.ReadUInt64BigEndian(entry) & 0x00FF_FFFF_FFFF_FE00);
    }
}
