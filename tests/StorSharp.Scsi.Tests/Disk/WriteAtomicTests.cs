using System.Buffers.Binary;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

/// <summary>WRITE ATOMIC(16) (SBC-4 §5.48) and its VPD B0h fields (SBC-4 §6.6.4).</summary>
public class WriteAtomicTests
{
    private static byte[] WriteAtomic16(ulong lba, ushort blocks, ushort boundary = 0, byte flags = 0)
    {
        var cdb = new byte[16];
        cdb[0] = 0x9C;
        cdb[1] = flags;
        BinaryPrimitives.WriteUInt64BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(10), boundary);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(12), blocks);
        return cdb;
    }

    private static byte[] Caw(ulong lba, byte blocks)
    {
        var cdb = new byte[16];
        cdb[0] = 0x89;
        BinaryPrimitives.WriteUInt64BigEndian(cdb.AsSpan(2), lba);
        cdb[13] = blocks;
        return cdb;
    }

    [Fact]
    public async Task Write_atomic_writes_the_blocks_with_fua_and_dpo_accepted()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var data = Cdbs.Pattern(4 * 512, 9);
        var r = await h.ExecAsync(WriteAtomic16(100, 4, flags: 0x18), dataOut: data);
        r.AssertGood();
        Assert.Equal(data, dev.Bytes.Slice(100 * 512, 4 * 512).ToArray());
        Assert.Equal(1, dev.WriteCount); // one device write: nothing can interleave inside it
        Assert.Equal(Block.BlockWriteFlags.ForceUnitAccess, dev.LastWriteFlags);
    }

    [Fact]
    public async Task Write_atomic_checks_range_zero_blocks_and_protection_field()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        (await h.ExecAsync(WriteAtomic16(0, 0))).AssertGood();
        (await h.ExecAsync(WriteAtomic16(1024, 0))).AssertGood();
        (await h.ExecAsync(WriteAtomic16(1025, 0))).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        (await h.ExecAsync(WriteAtomic16(1023, 2), dataOut: new byte[1024])).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        (await h.ExecAsync(WriteAtomic16(0x8000_0000_0000_0000, 1), dataOut: new byte[512])).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        // WRPROTECT != 0 without protection information: INVALID FIELD IN CDB (SBC-4 §5.48).
        (await h.ExecAsync(WriteAtomic16(0, 1, flags: 0x20), dataOut: new byte[512])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(0, dev.WriteCount);
    }

    [Fact]
    public async Task Vpd_b0_reports_the_atomic_limits_and_the_command_enforces_them()
    {
        var dev = new TestBlockDevice(blockCount: 70000);
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Inquiry(255, evpd: true, page: 0xB0), 255);
        r.AssertGood();
        uint maxTransfer = BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(8));
        uint maxAtomic = BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(44));
        Assert.Equal(8u * 1024 * 1024 / 512, maxAtomic); // the maximum transfer length, 16384 blocks
        Assert.True(maxAtomic <= maxTransfer);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(48))); // ATOMIC ALIGNMENT: none
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(52))); // ATOMIC TRANSFER LENGTH GRANULARITY: none
        Assert.Equal(maxAtomic, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(56))); // ... WITH ATOMIC BOUNDARY
        Assert.Equal(maxAtomic, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(60))); // MAXIMUM ATOMIC BOUNDARY SIZE

        var tooLong = await h.ExecAsync(WriteAtomic16(0, (ushort)(maxAtomic + 1)), dataOut: new byte[512]); // the CDB is refused before any data moves
        tooLong.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(12, tooLong.SenseInfo.Specific.Field);
        var badBoundary = await h.ExecAsync(WriteAtomic16(0, 1, boundary: (ushort)(maxAtomic + 1)), dataOut: new byte[512]);
        badBoundary.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(10, badBoundary.SenseInfo.Specific.Field);
        (await h.ExecAsync(WriteAtomic16(0, 8, boundary: 4), dataOut: new byte[8 * 512])).AssertGood();
        Assert.Equal(1, dev.WriteCount);
    }

    [Fact]
    public async Task Write_atomic_waits_for_a_compare_and_write_on_its_range()
    {
        var dev = new TestBlockDevice();
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        dev.HoldReads();
        var caw = DiskHarness.Prepare(Caw(2, 1), dataOut: [.. new byte[512], .. Cdbs.Pattern(512, 1)]);
        var cawTask = h.Adapter.ExecuteAsync(caw).AsTask();
        await dev.ReadStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var atomic = DiskHarness.Prepare(WriteAtomic16(0, 4), dataOut: Cdbs.Pattern(4 * 512, 2));
        var atomicTask = h.Adapter.ExecuteAsync(atomic).AsTask();
        await Task.Delay(50);
        Assert.False(atomicTask.IsCompleted);
        Assert.Equal(0, dev.WriteCount);
        dev.ReleaseReads();
        await Task.WhenAll(cawTask, atomicTask).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ScsiStatus.Good, caw.ScsiStatus);
        Assert.Equal(ScsiStatus.Good, atomic.ScsiStatus);
        Assert.Equal(Cdbs.Pattern(4 * 512, 2), dev.Bytes[..(4 * 512)].ToArray()); // all four blocks, after the COMPARE AND WRITE
        caw.Release();
        atomic.Release();
    }
}
