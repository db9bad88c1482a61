using System.Buffers.Binary;
using StorSharp.Images.Tests.Mapped;
using StorSharp.Images.Vhdx;

namespace StorSharp.Images.Tests.Vhdx;

/// <summary>
/// VHDX log replay (MS-VHDX 2.3.3) on logs crafted in qemu-made images; qemu's own replay
/// (<c>qemu-img check -r all</c> on a copy) is the oracle.
/// </summary>
public sealed class VhdxLogTests : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly ImageDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Builds a log entry: header and descriptors in the first sector(s), then one data sector per data update.</summary>
    internal static byte[] Entry(Guid logGuid, ulong sequence, uint tail, long flushed, long last, (long Offset, byte[] Data)[] writes, (long Offset, long Length)[] zeros)
    {
        int count = writes.Length + zeros.Length;
        int descriptorSectors = (64 + 32 * count + 4095) / 4096;
        var e = new byte[(descriptorSectors + writes.Length) * 4096];
        "loge"u8.CopyTo(e);
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(8), (uint)e.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(12), tail);
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(16), sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(24), (uint)count);
        logGuid.TryWriteBytes(e.AsSpan(32));
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(48), (ulong)flushed);
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(56), (ulong)last);
        int d = 64;
        foreach (var (offset, length) in zeros)
        {
            "zero"u8.CopyTo(e.AsSpan(d));
            BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(d + 8), (ulong)length);
            BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(d + 16), (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(d + 24), sequence);
            d += 32;
        }
        int sector = descriptorSectors;
        foreach (var (offset, data) in writes)
        {
            "desc"u8.CopyTo(e.AsSpan(d));
            data.AsSpan(4092, 4).CopyTo(e.AsSpan(d + 4));
            data.AsSpan(0, 8).CopyTo(e.AsSpan(d + 8));
            BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(d + 16), (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(d + 24), sequence);
            d += 32;
            var s = e.AsSpan(sector * 4096, 4096);
            "data"u8.CopyTo(s);
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], (uint)(sequence >> 32));
            data.AsSpan(8, 4084).CopyTo(s[8..]);
            BinaryPrimitives.WriteUInt32LittleEndian(s[4092..], (uint)sequence);
            sector++;
        }
        VhdxCrc.Store(e, 4);
        return e;
    }

    /// <summary>
    /// A qemu-made dynamic VHDX (1 MiB blocks, data in block 0) with a pending log entry that allocates block 3
    /// (its BAT sector, logged) at a new block whose data was already written, and zeroes block 0's first 4 KiB.
    /// </summary>
    private string MakeImageWithPendingLog(ulong sequence = 5)
    {
        string path = _dir.File("log.vhdx");
        QemuTools.Run("qemu-img", "create", "-q", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M,block_state_zero=off", path, "8M");
        QemuTools.Run("qemu-io", "-f", "vhdx", "-c", "write -P 0x5a 0 64k", path);
        var bytes = File.ReadAllBytes(path).ToList();
        var image = bytes.ToArray();
        var slots = new[] { VhdxHeader.TryParse(image.AsSpan(64 << 10, 4096), out _), VhdxHeader.TryParse(image.AsSpan(128 << 10, 4096), out _) };
        var (header, slot) = VhdxHeader.Select(slots[0], slots[1])!.Value;
        var bat = VhdxRegionTable.TryParse(image.AsSpan(192 << 10, 64 << 10), image.Length, out _)!.Single(r => r.Id == VhdxRegionTable.BatRegion);

        long flushed = image.Length / MiB * MiB;
        long newBlock = (image.Length + MiB - 1) / MiB * MiB;
        var grown = new byte[newBlock + MiB];
        image.CopyTo(grown, 0);
        grown.AsSpan((int)newBlock, 4096).Fill(0x6b);

        var batSector = grown.AsSpan((int)bat.FileOffset, 4096).ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(batSector.AsSpan(3 * 8), (ulong)(newBlock / MiB) << 20 | 6);
        long block0 = (long)(BinaryPrimitives.ReadUInt64LittleEndian(grown.AsSpan((int)bat.FileOffset)) >> 20) * MiB;
        var logGuid = Guid.NewGuid();
        var entry = Entry(logGuid, sequence, tail: 0, flushed, newBlock + MiB, [(bat.FileOffset, batSector)], [(block0, 4096)]);
        entry.CopyTo(grown, (long)header.LogOffset);
        (header with { SequenceNumber = header.SequenceNumber + 1, LogGuid = logGuid }).ToBytes().CopyTo(grown, VhdxHeader.Offsets[slot ^ 1]);
        File.WriteAllBytes(path, grown);
        return path;
    }

    [QemuFact]
    public async Task A_pending_log_is_replayed_as_qemu_replays_it()
    {
        string path = MakeImageWithPendingLog();
        string copy = _dir.File("qemu.vhdx");
        File.Copy(path, copy);
        QemuTools.Run("qemu-img", "check", "-r", "all", "-f", "vhdx", copy); // qemu replays the log
        byte[] expected = QemuTools.ToRaw(copy, "vhdx", _dir.File("expected.raw"));
        Assert.All(expected.AsSpan(0, 4096).ToArray(), b => Assert.Equal(0, b));         // the zero descriptor
        Assert.All(expected.AsSpan(4096, 4096).ToArray(), b => Assert.Equal(0x5a, b));
        Assert.All(expected.AsSpan(3 << 20, 4096).ToArray(), b => Assert.Equal(0x6b, b)); // the logged BAT update

        await using (var device = await DiskImage.OpenAsync(path, new DiskImageOpenOptions()))
        {
            var actual = new byte[expected.Length];
            await device.ReadAsync(0, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), "the replayed image reads differently from qemu's replay");
        }
        QemuTools.Run("qemu-img", "check", "-f", "vhdx", path); // the log is no longer pending
        QemuTools.Run("qemu-img", "compare", "-f", "vhdx", "-F", "raw", path, _dir.File("expected.raw"));
    }

    [QemuFact]
    public async Task A_pending_log_on_a_read_only_open_is_refused_with_what_to_do()
    {
        string path = MakeImageWithPendingLog();
        var e = await Assert.ThrowsAsync<DiskImageException>(async () => await DiskImage.OpenAsync(path, new DiskImageOpenOptions { ReadOnly = true }));
        Assert.Contains("never applied", e.Message);
        Assert.Contains("read-write once", e.Message);
    }

    [QemuFact]
    public async Task A_damaged_log_entry_is_refused()
    {
        string path = MakeImageWithPendingLog();
        var bytes = File.ReadAllBytes(path);
        var slots = new[] { VhdxHeader.TryParse(bytes.AsSpan(64 << 10, 4096), out _), VhdxHeader.TryParse(bytes.AsSpan(128 << 10, 4096), out _) };
        var (header, _) = VhdxHeader.Select(slots[0], slots[1])!.Value;
        bytes[(int)header.LogOffset + 4096 + 100] ^= 1; // inside the data sector: the entry's CRC no longer matches
        File.WriteAllBytes(path, bytes);
        var e = await Assert.ThrowsAsync<DiskImageException>(async () => await DiskImage.OpenAsync(path, new DiskImageOpenOptions()));
        Assert.Contains("no valid, complete sequence", e.Message);
    }

    [Fact]
    public void The_active_sequence_is_the_newest_complete_one()
    {
        var guid = Guid.NewGuid();
        var log = new byte[64 * 1024];
        // An old sequence at 0 (entries 1, 2), and a newer one at 32 KiB (entries 7, 8) whose head names its own tail.
        Entry(guid, 1, 0, 0, 0, [], [(1 << 20, 4096)]).CopyTo(log, 0);
        Entry(guid, 2, 0, 0, 0, [], [(2 << 20, 4096)]).CopyTo(log, 4096);
        Entry(guid, 7, 32768, 0, 0, [], [(3 << 20, 4096)]).CopyTo(log, 32768);
        Entry(guid, 8, 32768, 0, 0, [], [(4 << 20, 4096)]).CopyTo(log, 36864);
        var active = VhdxLog.FindActiveSequence(log, guid);
        Assert.Equal([7UL, 8UL], active.Select(e => e.SequenceNumber));
        Assert.Empty(VhdxLog.FindActiveSequence(log, Guid.NewGuid())); // entries of another log do not count
        // An entry whose sequence number does not follow ends the sequence: entry 10 is not part of 7's.
        Entry(guid, 10, 32768, 0, 0, [], []).CopyTo(log, 36864);
        Assert.Equal([7UL], VhdxLog.FindActiveSequence(log, guid).Select(e => e.SequenceNumber));
        // A head whose tail is not inside its sequence is not valid: the older complete sequence wins.
        Entry(guid, 7, 8192, 0, 0, [], []).CopyTo(log, 32768);
        Assert.Equal([1UL, 2UL], VhdxLog.FindActiveSequence(log, guid).Select(e => e.SequenceNumber));
    }
}
