using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Nvme.Tests;

/// <summary>What libiscsi's iscsi-test-cu asked of the translation, driven through a real port.</summary>
public sealed class ConformanceTests
{
    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public async Task Write_same_of_a_pattern_writes_every_block_in_bounded_nvme_writes()
    {
        var device = new FakeBlockDevice(8 << 20);
        await using var h = await NvmeHarness.CreateAsync(device);
        var block = Pattern(512, 5);
        // 4096 blocks = 2 MiB: more than one 1 MiB pattern buffer, so two NVMe Writes.
        (await h.ExecAsync(Cdb.WriteSame16(100, 4096), dataOut: block)).AssertGood();
        Assert.Equal(2, device.Writes);
        var read = (await h.ExecAsync(Cdb.Read16(99, 4098), 4098 * 512)).AssertGood().Data;
        Assert.True(read.AsSpan(0, 512).IndexOfAnyExcept((byte)0) < 0);            // LBA 99 untouched
        for (int i = 1; i <= 4096; i++) Assert.True(block.AsSpan().SequenceEqual(read.AsSpan(i * 512, 512)), $"block {i}");
        Assert.True(read.AsSpan(4097 * 512).IndexOfAnyExcept((byte)0) < 0);       // LBA 4196 untouched
        // WRITE SAME(10) with UNMAP of a non-zero block writes it too (unmapping is a request, not a duty).
        (await h.ExecAsync(Cdb.WriteSame10(10, 3, unmap: true), dataOut: block)).AssertGood();
        Assert.Equal(block, (await h.ExecAsync(Cdb.Read10(12, 1), 512)).AssertGood().Data);
        Assert.Equal(0, h.Miniport.Memory.MappedCount - h.Miniport.Pages.PageCount);
    }

    [Fact]
    public async Task Write_same_of_a_pattern_on_an_asynchronous_backend_and_a_failure_release_everything()
    {
        var device = new FakeBlockDevice(8 << 20) { Asynchronous = true };
        await using var h = await NvmeHarness.CreateAsync(device);
        var block = Pattern(512, 6);
        (await h.ExecAsync(Cdb.WriteSame10(0, 3000), dataOut: block)).AssertGood();
        Assert.Equal(block, (await h.ExecAsync(Cdb.Read10(2999, 1), 512)).AssertGood().Data);
        device.Fail = BlockError.MediumError;
        (await h.ExecAsync(Cdb.WriteSame10(0, 3000), dataOut: block)).AssertCheckCondition(NvmeStatusTranslation.PeripheralDeviceWriteFault);
        Assert.Equal(0, h.Miniport.Memory.MappedCount - h.Miniport.Pages.PageCount);
    }

    [Fact]
    public async Task Block_limits_agree_with_what_write_same_and_write_accept()
    {
        await using var h = await NvmeHarness.CreateAsync(new RamBlockDevice(64L << 20, 512));
        var limits = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0xB0), 255)).AssertGood();
        uint maxTransfer = limits.U32(8);
        Assert.Equal((uint)(8 * 1024 * 1024 / 512), maxTransfer);
        Assert.Equal(maxTransfer, limits.U32(12));          // optimal: one NVMe command
        Assert.Equal(65535UL, limits.U64(36));              // MAXIMUM WRITE SAME LENGTH
        // The longest WRITE SAME works, one block more is INVALID FIELD IN CDB (the NUMBER OF LOGICAL BLOCKS field).
        (await h.ExecAsync(Cdb.WriteSame16(0, 65535, unmap: true), dataOut: new byte[512])).AssertGood();
        var refused = (await h.ExecAsync(Cdb.WriteSame16(0, 65536, unmap: true), dataOut: new byte[512])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(10, refused.Specific.Field);
        // A WRITE of the maximum transfer length works; one longer is refused before it reaches the miniport.
        (await h.ExecAsync(Cdb.Write16(0, maxTransfer), dataOut: new byte[maxTransfer * 512])).AssertGood();
        var tooLong = await h.ExecAsync(Cdb.Write16(0, maxTransfer + 1), dataOut: new byte[(maxTransfer + 1) * 512]);
        Assert.Equal(SrbStatus.InvalidRequest, tooLong.Status);
        // VPD B2h: LBPWS and LBPWS10, since both WRITE SAME commands take UNMAP.
        var provisioning = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0xB2), 255)).AssertGood();
        Assert.Equal(0x60, provisioning.Data[5] & 0x60);
    }
}

/// <summary>VERIFY, COMPARE AND WRITE and unit attentions: commands the translation gained for iscsi-test-cu.</summary>
public sealed class VerifyCompareTests
{
    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Theory]
    [InlineData(10)]
    [InlineData(12)]
    [InlineData(16)]
    public async Task Verify_reads_back_the_blocks_and_compares_with_bytchk(int size)
    {
        var device = new FakeBlockDevice(8 << 20);
        await using var h = await NvmeHarness.CreateAsync(device);
        var data = Pattern(16 * 512, size);
        (await h.ExecAsync(Cdb.Write10(32, 16), dataOut: data)).AssertGood();
        int readsBefore = device.Reads;
        // BYTCHK 0: NVMe Verify; 3000 blocks (1.5 MiB) are read back in two bounded chunks.
        (await h.ExecAsync(Cdb.Verify(size, 0, 3000))).AssertGood();
        Assert.Equal(readsBefore + 2, device.Reads);
        // BYTCHK 1: NVMe Compare: equal data is GOOD, one byte off is MISCOMPARE DURING VERIFY.
        (await h.ExecAsync(Cdb.Verify(size, 32, 16, bytchk: 1), dataOut: data)).AssertGood();
        var wrong = (byte[])data.Clone();
        wrong[5000] ^= 1;
        (await h.ExecAsync(Cdb.Verify(size, 32, 16, bytchk: 1), dataOut: wrong)).AssertCheckCondition(SenseCodes.MiscompareDuringVerify);
        // Zero blocks: nothing to do. Out of range, VRPROTECT and BYTCHK 11b are refused.
        (await h.ExecAsync(Cdb.Verify(size, 0, 0))).AssertGood();
        (await h.ExecAsync(Cdb.Verify(size, 16383, 2))).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        Assert.Equal(7, (await h.ExecAsync(Cdb.Verify(size, 0, 1, vrprotect: 1))).AssertCheckCondition(SenseCodes.InvalidFieldInCdb).Specific.BitPointer);
        Assert.Equal(1, (await h.ExecAsync(Cdb.Verify(size, 0, 1, bytchk: 3), dataOut: new byte[512])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb).Specific.Field);
        Assert.Equal(0, h.Miniport.Memory.MappedCount - h.Miniport.Pages.PageCount);
    }

    [Theory]
    [InlineData(0x2E, 0)]
    [InlineData(0xAE, 1)]
    [InlineData(0x8E, 1)]
    public async Task Write_and_verify_writes_with_fua_then_verifies_or_compares(byte opcode, int bytchk)
    {
        var device = new FakeBlockDevice(1 << 20) { Asynchronous = true };
        await using var h = await NvmeHarness.CreateAsync(device);
        var data = Pattern(8 * 512, opcode);
        var cdb = Cdb.Verify(opcode == 0x2E ? 10 : opcode == 0xAE ? 12 : 16, 40, 8, bytchk);
        cdb[0] = opcode;
        int reads = device.Reads;
        (await h.ExecAsync(cdb, dataOut: data)).AssertGood();
        Assert.Equal(1, device.Writes);
        Assert.Equal(BlockWriteFlags.ForceUnitAccess, device.LastWriteFlags);
        Assert.Equal(reads + 1, device.Reads);               // the Verify or Compare read the blocks back
        Assert.Equal(data, (await h.ExecAsync(Cdb.Read10(40, 8), data.Length)).AssertGood().Data);
        // BYTCHK 1xb is reserved for WRITE AND VERIFY.
        cdb[1] = 0x04;
        (await h.ExecAsync(cdb, dataOut: data)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(0, h.Miniport.Memory.MappedCount - h.Miniport.Pages.PageCount);
    }

    [Fact]
    public async Task Write_and_verify_is_write_protected_on_a_read_only_namespace()
    {
        await using var h = await NvmeHarness.CreateAsync(readOnly: true);
        var cdb = Cdb.Verify(10, 0, 1);
        cdb[0] = 0x2E;
        (await h.ExecAsync(cdb, dataOut: new byte[512])).AssertCheckCondition(SenseCodes.WriteProtected);
    }

    [Fact]
    public async Task Verify_reports_an_unreadable_block_as_a_medium_error()
    {
        var device = new FakeBlockDevice(1 << 20) { Fail = BlockError.MediumError };
        await using var h = await NvmeHarness.CreateAsync(device);
        (await h.ExecAsync(Cdb.Verify(10, 0, 8))).AssertCheckCondition(SenseCodes.UnrecoveredReadError);
    }

    [Fact]
    public async Task Compare_and_write_writes_only_when_the_blocks_match()
    {
        await using var h = await NvmeHarness.CreateAsync();
        var old = Pattern(2 * 512, 1);
        var next = Pattern(2 * 512, 2);
        (await h.ExecAsync(Cdb.Write10(10, 2), dataOut: old)).AssertGood();
        (await h.ExecAsync(Cdb.CompareAndWrite(10, 2), dataOut: [.. old, .. next])).AssertGood();
        Assert.Equal(next, (await h.ExecAsync(Cdb.Read10(10, 2), 1024)).AssertGood().Data);
        // The medium now holds `next`: comparing with `old` again miscompares and writes nothing.
        var third = Pattern(2 * 512, 3);
        (await h.ExecAsync(Cdb.CompareAndWrite(10, 2), dataOut: [.. old, .. third])).AssertCheckCondition(SenseCodes.MiscompareDuringVerify);
        Assert.Equal(next, (await h.ExecAsync(Cdb.Read10(10, 2), 1024)).AssertGood().Data);
        // Zero blocks with no data is GOOD; with data, or more than VPD B0h allows, or a short buffer: byte 13.
        (await h.ExecAsync(Cdb.CompareAndWrite(10, 0))).AssertGood();
        Assert.Equal(13, (await h.ExecAsync(Cdb.CompareAndWrite(10, 0), dataOut: new byte[1024])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb).Specific.Field);
        var limits = (await h.ExecAsync(Cdb.Inquiry(evpd: true, page: 0xB0), 255)).AssertGood();
        Assert.Equal(64, limits.Data[5]);
        Assert.Equal(13, (await h.ExecAsync(Cdb.CompareAndWrite(0, 65), dataOut: new byte[65 * 1024])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb).Specific.Field);
        Assert.Equal(13, (await h.ExecAsync(Cdb.CompareAndWrite(10, 2), dataOut: new byte[1536])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb).Specific.Field);
        (await h.ExecAsync(Cdb.CompareAndWrite(2047, 2), dataOut: new byte[2048])).AssertCheckCondition(SenseCodes.LbaOutOfRange);
        Assert.Equal(0, h.Miniport.Memory.MappedCount - h.Miniport.Pages.PageCount);
    }

    [Fact]
    public async Task Concurrent_compare_and_writes_of_one_block_are_atomic()
    {
        // libiscsi's MultipathIO.CompareAndWriteAsync: each CAW expects the value the previous one wrote.
        // Fused pairs run one at a time per namespace, so exactly one of each racing pair succeeds.
        var device = new FakeBlockDevice(1 << 20) { Asynchronous = true };
        await using var h = await NvmeHarness.CreateAsync(device);
        (await h.ExecAsync(Cdb.Write10(0, 1), dataOut: new byte[512])).AssertGood();
        byte[] Block(byte v) => Enumerable.Repeat(v, 512).ToArray();
        int rounds = 200, successes = 0, miscompares = 0;
        var tasks = new List<Task<ScsiResult>>();
        for (int i = 0; i < rounds; i++)
        {
            tasks.Add(Task.Run(() => h.ExecAsync(Cdb.CompareAndWrite(0, 1), dataOut: [.. Block(0), .. Block(1)])));
            tasks.Add(Task.Run(() => h.ExecAsync(Cdb.CompareAndWrite(0, 1), dataOut: [.. Block(1), .. Block(0)])));
        }
        foreach (var r in await Task.WhenAll(tasks))
        {
            if (r.ScsiStatus == ScsiStatus.Good) successes++;
            else { r.AssertCheckCondition(SenseCodes.MiscompareDuringVerify); miscompares++; }
        }
        // Atomicity: the block only ever holds 0 or 1, and every success flipped it.
        var final = (await h.ExecAsync(Cdb.Read10(0, 1), 512)).AssertGood().Data;
        Assert.True(final.All(b => b == final[0]) && final[0] is 0 or 1);
        Assert.Equal(successes % 2, final[0]);
        Assert.Equal(2 * rounds, successes + miscompares);
        Assert.True(successes > 0);
    }

    [Fact]
    public async Task A_lu_reset_gives_every_nexus_a_unit_attention_once()
    {
        await using var h = await NvmeHarness.CreateAsync();
        var a = new InitiatorNexus("iqn.test:a,i,0x1", "iqn.test:t");
        var b = new InitiatorNexus("iqn.test:b,i,0x2", "iqn.test:t");
        (await h.ExecAsync(Cdb.TestUnitReady(), nexus: a)).AssertGood();
        (await h.ExecAsync(Cdb.TestUnitReady(), nexus: b)).AssertGood();
        Assert.Equal(SrbStatus.Success, await h.FunctionAsync(SrbFunction.ResetLogicalUnit, nexus: a));
        // INQUIRY does not report or clear it; the next other command does, once.
        (await h.ExecAsync(Cdb.Inquiry(), 255, nexus: a)).AssertGood();
        (await h.ExecAsync(Cdb.TestUnitReady(), nexus: a)).AssertCheckCondition(SenseCodes.BusDeviceResetFunctionOccurred);
        (await h.ExecAsync(Cdb.TestUnitReady(), nexus: a)).AssertGood();
        // REQUEST SENSE reports it (and clears it) on the other nexus.
        var sense = (await h.ExecAsync(Cdb.RequestSense(), 252, nexus: b)).AssertGood();
        Assert.Equal((byte)SenseKey.UnitAttention, (byte)(sense.Data[2] & 0x0F));
        Assert.Equal(0x29, sense.Data[12]);
        Assert.Equal(0x03, sense.Data[13]);
        (await h.ExecAsync(Cdb.TestUnitReady(), nexus: b)).AssertGood();
        // StorSharp's own requests never get one.
        Assert.Equal(SrbStatus.Success, await h.FunctionAsync(SrbFunction.ResetLogicalUnit));
        (await h.ExecAsync(Cdb.TestUnitReady())).AssertGood();
    }

    [Fact]
    public async Task A_nexus_that_is_gone_is_forgotten()
    {
        await using var h = await NvmeHarness.CreateAsync();
        var a = new InitiatorNexus("iqn.test:a,i,0x1", "iqn.test:t");
        (await h.ExecAsync(Cdb.TestUnitReady(), nexus: a)).AssertGood();
        Assert.Equal(SrbStatus.Success, await h.FunctionAsync(SrbFunction.ResetLogicalUnit));
        // I_T NEXUS LOSS through the miniport-specific control request, as the iSCSI target sends it.
        var srb = SrbPool.Shared.Rent();
        srb.Function = SrbFunction.IoControl;
        srb.Address = NvmeHarness.Lun0;
        srb.Nexus = a;
        var header = new byte[ScsiDiskControl.HeaderLength];
        ScsiDiskControl.WriteRequest(header, ScsiDiskControl.ItNexusLoss);
        srb.Data.Add(header);
        srb.DataTransferLength = header.Length;
        await h.Adapter.ExecuteAsync(srb);
        Assert.Equal(SrbStatus.Success, srb.Status);
        srb.Release();
        // The unit attention went with the nexus.
        (await h.ExecAsync(Cdb.TestUnitReady(), nexus: a)).AssertGood();
    }
}

/// <summary>REPORT SUPPORTED OPERATION CODES and the command table it is generated from.</summary>
public sealed class ReportSupportedTests
{
    private static byte[] Rsoc(int options, byte opcode = 0, ushort serviceAction = 0, bool rctd = false, int allocation = 4096) =>
        [0xA3, 0x0C, (byte)((rctd ? 0x80 : 0) | options), opcode, (byte)(serviceAction >> 8), (byte)serviceAction, (byte)(allocation >> 24), (byte)(allocation >> 16), (byte)(allocation >> 8), (byte)allocation, 0, 0];

    [Fact]
    public async Task Every_command_listed_is_dispatched_and_every_other_opcode_is_unknown()
    {
        // A namespace without deallocate: UNMAP and GET LBA STATUS are neither listed nor answered.
        var device = new FakeBlockDevice(1 << 20) { CapabilitiesOverride = BlockDeviceCapabilities.Flush };
        await using var h = await NvmeHarness.CreateAsync(device);
        var all = (await h.ExecAsync(Rsoc(0), 4096)).AssertGood();
        int length = (int)all.U32(0);
        var listed = new HashSet<(byte, ushort?)>();
        for (int at = 4; at < 4 + length; at += 8)
            listed.Add((all.Data[at], (all.Data[at + 5] & 1) != 0 ? BinaryPrimitives.ReadUInt16BigEndian(all.Data.AsSpan(at + 2)) : null));
        Assert.DoesNotContain(((byte)0x42, (ushort?)null), listed);
        Assert.Contains(((byte)0x2F, (ushort?)null), listed);
        Assert.Contains(((byte)0x89, (ushort?)null), listed);
        Assert.Contains(((byte)0x9E, (ushort?)0x10), listed);
        for (int op = 0; op < 256; op++)
        {
            if (op is 0x9E or 0xA3) continue; // opcodes with service actions: checked below
            int size = BlockCdb.LengthOf((byte)op) is var n and > 0 ? n : 16;
            var cdb = new byte[size];
            cdb[0] = (byte)op;
            if (op == 0xA0) cdb[9] = 16; // REPORT LUNS needs an allocation length of 16 or more
            var r = await h.ExecAsync(cdb, 512);
            bool unknown = r.ScsiStatus == ScsiStatus.CheckCondition && r.SenseInfo.Code == SenseCodes.InvalidCommandOperationCode;
            Assert.True(listed.Contains(((byte)op, null)) != unknown, $"opcode {op:X2}h: listed {listed.Contains(((byte)op, null))}, unknown {unknown}");
        }
        // A service action that is not listed is INVALID FIELD IN CDB, byte 1 bit 4.
        var sa = (await h.ExecAsync([0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 32)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(1, sa.Specific.Field);
        (await h.ExecAsync([0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], 256)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }

    [Fact]
    public async Task One_command_reports_its_cdb_usage_data_and_timeouts()
    {
        await using var h = await NvmeHarness.CreateAsync();
        var write10 = (await h.ExecAsync(Rsoc(1, 0x2A), 64)).AssertGood();
        Assert.Equal(0x03, write10.Data[1] & 0x07);          // supported
        Assert.Equal(10, BinaryPrimitives.ReadUInt16BigEndian(write10.Data.AsSpan(2)));
        Assert.Equal(0x2A, write10.Data[4]);
        Assert.Equal(0x18, write10.Data[5]);                  // DPO and FUA: libiscsi's Write10.DpoFua compares them with MODE SENSE DPOFUA
        var capacity = (await h.ExecAsync(Rsoc(2, 0x9E, 0x10, rctd: true), 64)).AssertGood();
        Assert.Equal(0x83, capacity.Data[1]);                 // CTDP, supported
        Assert.Equal(16 + 4 + 12, capacity.Data.Length);      // usage data then the timeouts descriptor
        var unknown = (await h.ExecAsync(Rsoc(1, 0x8B), 64)).AssertGood();
        Assert.Equal(0x01, unknown.Data[1] & 0x07);           // ORWRITE(16): not supported
        Assert.Equal(2, (await h.ExecAsync(Rsoc(1, 0x9E), 64)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb).Specific.Field); // 9Eh has service actions
        var thin = (await h.ExecAsync(Rsoc(1, 0x42), 64)).AssertGood();
        Assert.Equal(0x03, thin.Data[1] & 0x07);              // UNMAP on a namespace that deallocates
    }
}
