using System.Buffers.Binary;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class VerifyAndAtomicTests
{
    private static byte[] Verify10(uint lba, ushort blocks, int bytchk) => Cdbs.Rw10(0x2F, lba, blocks, (byte)(bytchk << 1));

    private static byte[] Caw(ulong lba, byte blocks, byte flags = 0)
    {
        var cdb = new byte[16];
        cdb[0] = 0x89;
        cdb[1] = flags;
        BinaryPrimitives.WriteUInt64BigEndian(cdb.AsSpan(2), lba);
        cdb[13] = blocks;
        return cdb;
    }

    [Fact]
    public async Task Verify_compares_with_data_out_and_reports_the_miscompare_offset()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var data = Cdbs.Pattern(1024, 2);
        data.CopyTo(dev.Bytes[(4 * 512)..]);
        (await h.ExecAsync(Verify10(4, 2, 0))).AssertGood();
        (await h.ExecAsync(Verify10(4, 2, 1), dataOut: data)).AssertGood();
        var wrong = (byte[])data.Clone();
        wrong[700] ^= 0xFF;
        var r = await h.ExecAsync(Verify10(4, 2, 1), dataOut: wrong);
        r.AssertCheckCondition(SenseCodes.MiscompareDuringVerify);
        Assert.True(r.SenseInfo.InformationValid);
        Assert.Equal(700ul, r.SenseInfo.Information);
        (await h.ExecAsync(Verify10(1023, 2, 0))).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        (await h.ExecAsync(Verify10(0, 1, 2), dataOut: new byte[512])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }

    [Fact]
    public async Task Verify_bytchk_3_compares_every_block_with_one()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var block = Cdbs.Pattern(512, 6);
        for (int i = 0; i < 3; i++) block.CopyTo(dev.Bytes[((10 + i) * 512)..]);
        (await h.ExecAsync(Verify10(10, 3, 3), dataOut: block)).AssertGood();
        dev.Bytes[12 * 512 + 5] ^= 1;
        var r = await h.ExecAsync(Verify10(10, 3, 3), dataOut: block);
        Assert.Equal(1024ul + 5, r.SenseInfo.Information);
    }

    [Fact]
    public async Task Write_and_verify_writes()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var data = Cdbs.Pattern(1024, 11);
        (await h.ExecAsync(Cdbs.Rw10(0x2E, 8, 2, 0x02), dataOut: data)).AssertGood();
        Assert.Equal(data, dev.Bytes.Slice(8 * 512, 1024).ToArray());
        (await h.ExecAsync(Cdbs.Rw16(0x8E, 2000, 1), dataOut: new byte[512])).AssertCheckCondition(SenseCodes.LbaOutOfRange);
    }

    [Fact]
    public async Task Compare_and_write_writes_on_match_and_reports_miscompare_otherwise()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var old = Cdbs.Pattern(512, 1);
        var next = Cdbs.Pattern(512, 2);
        old.CopyTo(dev.Bytes[(3 * 512)..]);
        var r = await h.ExecAsync(Caw(3, 1), dataOut: [.. old, .. next]);
        r.AssertGood();
        Assert.Equal(1024, r.DataTransferLength);
        Assert.Equal(next, dev.Bytes.Slice(3 * 512, 512).ToArray());

        var stale = (byte[])old.Clone();
        r = await h.ExecAsync(Caw(3, 1), dataOut: [.. stale, .. Cdbs.Pattern(512, 3)]);
        r.AssertCheckCondition(SenseCodes.MiscompareDuringVerify);
        Assert.Equal((ulong)next.AsSpan().CommonPrefixLength(stale), r.SenseInfo.Information);
        Assert.Equal(next, dev.Bytes.Slice(3 * 512, 512).ToArray());
    }

    [Fact]
    public async Task Compare_and_write_refuses_a_wrong_data_out_size_and_too_many_blocks()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        Assert.NotEqual(ScsiStatus.Good, (await h.ExecAsync(Caw(0, 1), dataOut: new byte[2048])).ScsiStatus);
        Assert.NotEqual(ScsiStatus.Good, (await h.ExecAsync(Caw(0, 3), dataOut: new byte[2048])).ScsiStatus);
        (await h.ExecAsync(Caw(0, 200), dataOut: new byte[400 * 512])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        (await h.ExecAsync(Caw(1024, 1), dataOut: new byte[1024])).AssertCheckCondition(SenseCodes.LbaOutOfRange);
    }

    [Fact]
    public async Task Compare_and_write_of_zero_blocks_is_good_only_without_data()
    {
        // libiscsi CompareAndWrite.Simple sends 256 blocks, which the one-byte field carries as 0,
        // with 2 x 256 blocks of data, and expects INVALID FIELD IN CDB.
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Caw(0, 0), dataOut: new byte[2 * 256 * 512]);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(13, r.SenseInfo.Specific.Field);
        (await h.ExecAsync(Caw(0, 0))).AssertGood();
        Assert.Equal(0, dev.WriteCount);
    }

    [Fact]
    public async Task Concurrent_compare_and_writes_never_lose_an_update()
    {
        var dev = new TestBlockDevice { YieldReads = true };
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        int successes = 0;
        async Task Worker()
        {
            for (int attempt = 0; attempt < 30; attempt++)
            {
                var current = await h.ExecAsync(Cdbs.Read10(0, 1), 512);
                var next = (byte[])current.Data.Clone();
                BinaryPrimitives.WriteInt32LittleEndian(next, BinaryPrimitives.ReadInt32LittleEndian(next) + 1);
                var r = await h.ExecAsync(Caw(0, 1), dataOut: [.. current.Data, .. next]);
                if (r.ScsiStatus == ScsiStatus.Good) Interlocked.Increment(ref successes);
                else Assert.Equal(SenseCodes.MiscompareDuringVerify, r.SenseInfo.Code);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(Worker)));
        Assert.True(successes > 0);
        Assert.Equal(successes, BinaryPrimitives.ReadInt32LittleEndian(dev.Bytes));
        Assert.Empty(h.ContractViolations);
    }

    [Fact]
    public async Task A_plain_write_waits_for_a_compare_and_write_on_its_range()
    {
        var dev = new TestBlockDevice();
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        var old = new byte[512];
        dev.HoldReads();
        var caw = DiskHarness.Prepare(Caw(0, 1), dataOut: [.. old, .. Cdbs.Pattern(512, 1)]);
        var cawTask = h.Adapter.ExecuteAsync(caw).AsTask();
        await dev.ReadStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var write = DiskHarness.Prepare(Cdbs.Write10(0, 1), dataOut: Cdbs.Pattern(512, 2));
        var writeTask = h.Adapter.ExecuteAsync(write).AsTask();
        await Task.Delay(50);
        Assert.False(writeTask.IsCompleted);
        Assert.Equal(0, dev.WriteCount);
        dev.ReleaseReads();
        await Task.WhenAll(cawTask, writeTask).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ScsiStatus.Good, caw.ScsiStatus);
        Assert.Equal(ScsiStatus.Good, write.ScsiStatus);
        Assert.Equal(Cdbs.Pattern(512, 2), dev.Bytes[..512].ToArray()); // the WRITE came after the COMPARE AND WRITE
        caw.Release();
        write.Release();
    }

    [Fact]
    public async Task Orwrite_ors_the_data_into_the_medium()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        dev.Bytes[..512].Fill(0x0F);
        var data = new byte[512];
        data.AsSpan().Fill(0xA0);
        (await h.ExecAsync(Cdbs.Rw16(0x8B, 0, 1), dataOut: data)).AssertGood();
        Assert.True(dev.Bytes[..512].ToArray().All(b => b == 0xAF));
    }

    [Fact]
    public async Task Prefetch_checks_the_range()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        (await h.ExecAsync(Cdbs.Rw10(0x34, 0, 8))).AssertGood();
        (await h.ExecAsync(Cdbs.Rw16(0x90, 1020, 8))).AssertCheckCondition(SenseCodes.LbaOutOfRange);
    }
}
