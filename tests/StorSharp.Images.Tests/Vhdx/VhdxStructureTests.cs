using System.Buffers.Binary;
using System.Text;
using StorSharp.Images.Tests.Mapped;
using StorSharp.Images.Vhdx;

namespace StorSharp.Images.Tests.Vhdx;

public sealed class VhdxStructureTests : IDisposable
{
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Crc32c_matches_the_standard_check_value()
    {
        // CRC-32C("123456789") = 0xE3069283 (RFC 3720 appendix B.4 parameters).
        Assert.Equal(0xE3069283u, VhdxCrc.Compute("123456789"u8, checksumOffset: -8));
    }

    [Fact]
    public void The_checksum_field_counts_as_zero()
    {
        var b = new byte[64];
        b[0] = 7;
        VhdxCrc.Store(b, 4);
        Assert.True(VhdxCrc.Verify(b, 4));
        b[10] = 1;
        Assert.False(VhdxCrc.Verify(b, 4));
    }

    private static VhdxHeader Header(ulong sequence) => new() { SequenceNumber = sequence, Version = 1, FileWriteGuid = Guid.NewGuid() };

    [Fact]
    public void The_valid_header_with_the_greater_sequence_number_is_current()
    {
        var a = VhdxHeader.TryParse(Header(5).ToBytes(), out _);
        var b = VhdxHeader.TryParse(Header(9).ToBytes(), out _);
        Assert.Equal(1, VhdxHeader.Select(a, b)!.Value.Slot);
        Assert.Equal(0, VhdxHeader.Select(b, a)!.Value.Slot);
        Assert.Equal(0, VhdxHeader.Select(a, null)!.Value.Slot);
        Assert.Null(VhdxHeader.Select(null, null));
        var damaged = Header(11).ToBytes();
        damaged[100] ^= 1;
        Assert.Null(VhdxHeader.TryParse(damaged, out string error));
        Assert.Contains("CRC-32C", error);
    }

    private static byte[] RegionTable(params (Guid Id, long Offset, uint Length, bool Required)[] entries)
    {
        var b = new byte[VhdxRegionTable.Length];
        "regi"u8.CopyTo(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), (uint)entries.Length);
        for (int i = 0; i < entries.Length; i++)
        {
            var e = b.AsSpan(16 + i * 32);
            entries[i].Id.TryWriteBytes(e);
            BinaryPrimitives.WriteUInt64LittleEndian(e[16..], (ulong)entries[i].Offset);
            BinaryPrimitives.WriteUInt32LittleEndian(e[24..], entries[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(e[28..], entries[i].Required ? 1u : 0);
        }
        VhdxCrc.Store(b, 4);
        return b;
    }

    [Fact]
    public void Region_table_checks()
    {
        const long file = 64 << 20;
        Assert.NotNull(VhdxRegionTable.TryParse(RegionTable((VhdxRegionTable.BatRegion, 1 << 20, 1 << 20, true), (VhdxRegionTable.MetadataRegion, 2 << 20, 1 << 20, true)), file, out _));
        string error;
        Assert.Null(VhdxRegionTable.TryParse(RegionTable((VhdxRegionTable.BatRegion, 1 << 20, 2 << 20, true), (VhdxRegionTable.MetadataRegion, 2 << 20, 1 << 20, true)), file, out error));
        Assert.Contains("overlaps", error);
        Assert.Null(VhdxRegionTable.TryParse(RegionTable((Guid.NewGuid(), 1 << 20, 1 << 20, true)), file, out error));
        Assert.Contains("required and unknown", error);
        Assert.NotNull(VhdxRegionTable.TryParse(RegionTable((Guid.NewGuid(), 1 << 20, 1 << 20, false)), file, out _));
        Assert.Null(VhdxRegionTable.TryParse(RegionTable((VhdxRegionTable.BatRegion, 63 << 20, 2 << 20, true)), file, out error));
        Assert.Contains("past the end", error);
        Assert.Null(VhdxRegionTable.TryParse(RegionTable((VhdxRegionTable.BatRegion, (1 << 20) + 4096, 1 << 20, true)), file, out error));
        Assert.Contains("whole MiB", error);
        var bad = RegionTable((VhdxRegionTable.BatRegion, 1 << 20, 1 << 20, true));
        bad[40] ^= 1;
        Assert.Null(VhdxRegionTable.TryParse(bad, file, out error));
        Assert.Contains("CRC-32C", error);
    }

    private string Make(string options = "subformat=dynamic,block_size=1M")
    {
        string path = _dir.File("d.vhdx");
        QemuTools.Run("qemu-img", "create", "-q", "-f", "vhdx", "-o", options, path, "8M");
        QemuTools.Run("qemu-io", "-f", "vhdx", "-c", "write -P 0x5a 0 64k", path);
        return path;
    }

    private static (VhdxHeader Header, int Slot) Current(byte[] file) =>
        VhdxHeader.Select(VhdxHeader.TryParse(file.AsSpan(64 << 10, 4096), out _), VhdxHeader.TryParse(file.AsSpan(128 << 10, 4096), out _))!.Value;

    private static async Task<string> RefusedAsync(string path)
    {
        var e = await Assert.ThrowsAsync<DiskImageException>(async () => await DiskImage.OpenAsync(path, "vhdx", new DiskImageOpenOptions { ReadOnly = true }));
        Assert.Contains(path, e.Message);
        return e.Message;
    }

    [QemuFact]
    public async Task A_damaged_current_header_falls_back_to_the_other()
    {
        string path = Make();
        var bytes = File.ReadAllBytes(path);
        var (_, slot) = Current(bytes);
        bytes[(slot + 1) * (64 << 10) + 200] ^= 1;
        File.WriteAllBytes(path, bytes);
        await using var device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true });
        var data = new byte[512];
        await device.ReadAsync(0, data);
        Assert.All(data, b => Assert.Equal(0x5a, b));
        bytes[(2 - slot) * (64 << 10) + 200] ^= 1; // and the other: nothing valid is left
        File.WriteAllBytes(path, bytes);
        Assert.Contains("neither header is valid", await RefusedAsync(path));
    }

    [QemuFact]
    public async Task A_header_naming_a_log_with_no_entries_is_refused()
    {
        string path = Make();
        var bytes = File.ReadAllBytes(path);
        var (header, slot) = Current(bytes);
        header.with_LogGuid(Guid.NewGuid()).ToBytes().CopyTo(bytes, (slot + 1) * (64 << 10));
        File.WriteAllBytes(path, bytes);
        Assert.Contains("qemu-img check -r all", await RefusedAsync(path)); // read-only: says how to replay
        var e = await Assert.ThrowsAsync<DiskImageException>(async () => await DiskImage.OpenAsync(path, new DiskImageOpenOptions()));
        Assert.Contains("no valid, complete sequence", e.Message);
    }

    private static (long Offset, long Length) Region(byte[] file, Guid id)
    {
        var regions = VhdxRegionTable.TryParse(file.AsSpan(192 << 10, 64 << 10), file.Length, out _)!;
        var r = regions.Single(x => x.Id == id);
        return (r.FileOffset, r.Length);
    }

    [QemuFact]
    public async Task A_BAT_entry_past_the_end_of_the_file_is_refused()
    {
        string path = Make();
        var bytes = File.ReadAllBytes(path);
        var (bat, _) = Region(bytes, VhdxRegionTable.BatRegion);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)bat + 8), 4000UL << 20 | 6);
        File.WriteAllBytes(path, bytes);
        string message = await RefusedAsync(path);
        Assert.Contains($"BAT at file offset {bat + 8}", message);
        Assert.Contains("outside the file", message);
    }

    [QemuFact]
    public async Task An_unknown_required_metadata_item_is_refused()
    {
        string path = Make();
        var bytes = File.ReadAllBytes(path);
        var (meta, _) = Region(bytes, VhdxRegionTable.MetadataRegion);
        // Turn the first metadata entry into an unknown, required, non-user item.
        int entry = (int)meta + 32;
        Guid.NewGuid().TryWriteBytes(bytes.AsSpan(entry));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(entry + 24), 4);
        File.WriteAllBytes(path, bytes);
        Assert.Contains("required and unknown", await RefusedAsync(path));
    }

    [QemuFact]
    public async Task Both_region_tables_damaged_is_refused()
    {
        string path = Make();
        var bytes = File.ReadAllBytes(path);
        bytes[(192 << 10) + 20] ^= 1;
        bytes[(256 << 10) + 20] ^= 1;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("region table", await RefusedAsync(path));
    }

    [QemuFact]
    public async Task Opening_read_write_updates_both_headers()
    {
        string path = Make();
        ulong before = Current(File.ReadAllBytes(path)).Header.SequenceNumber;
        await (await DiskImage.OpenAsync(path, new DiskImageOpenOptions())).DisposeAsync();
        var bytes = File.ReadAllBytes(path);
        var first = VhdxHeader.TryParse(bytes.AsSpan(64 << 10, 4096), out _);
        var second = VhdxHeader.TryParse(bytes.AsSpan(128 << 10, 4096), out _);
        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Equal(before + 2, Math.Max(first.SequenceNumber, second.SequenceNumber));
        QemuTools.Run("qemu-img", "check", "-f", "vhdx", path);
    }
}

internal static class VhdxHeaderTestExtensions
{
    public static VhdxHeader with_LogGuid(this VhdxHeader header, Guid log) => header with { LogGuid = log, SequenceNumber = header.SequenceNumber + 1 };
}
