using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

/// <summary>SANITIZE (SBC-4 §5.30) and the sanitize state machine (SBC-4 §4.11).</summary>
public class SanitizeTests
{
    private const BlockDeviceCapabilities ThinCaps = BlockDeviceCapabilities.ThinProvisioned | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static byte[] Sanitize(byte action, int parameterLength = 0, bool immed = false, bool ause = false) =>
        [0x48, (byte)((immed ? 0x80 : 0) | (ause ? 0x20 : 0) | action), 0, 0, 0, 0, 0, (byte)(parameterLength >> 8), (byte)parameterLength, 0];

    private static byte[] OverwriteList(byte[] pattern, int count = 1, bool invert = false, int? patternLength = null)
    {
        var list = new byte[4 + pattern.Length];
        list[0] = (byte)((invert ? 0x80 : 0) | count);
        BinaryPrimitives.WriteUInt16BigEndian(list.AsSpan(2), (ushort)(patternLength ?? pattern.Length));
        pattern.CopyTo(list, 4);
        return list;
    }

    private static Task<(DiskHarness, TestBlockDevice)> Create(TestBlockDevice? dev = null) =>
        DiskHarness.SingleAsync(dev ?? new TestBlockDevice(256));

    [Fact]
    public async Task Overwrite_fills_every_block_with_the_repeated_pattern()
    {
        var (h, dev) = await Create();
        await using var _h = h;
        dev.Bytes.Fill((byte)'a');
        var list = OverwriteList([0x12, 0x34, 0x56, 0x78]);
        (await h.ExecAsync(Sanitize(0x01, list.Length), dataOut: list)).AssertGood();
        for (int i = 0; i < dev.Bytes.Length; i++) Assert.Equal(new byte[] { 0x12, 0x34, 0x56, 0x78 }[i % 4], dev.Bytes[i]);
    }

    [Fact]
    public async Task Overwrite_with_invert_ends_on_the_inverted_pattern_after_an_even_count()
    {
        var (h, dev) = await Create();
        await using var _h = h;
        var list = OverwriteList(Enumerable.Repeat((byte)0xAA, 512).ToArray(), count: 2, invert: true);
        (await h.ExecAsync(Sanitize(0x01, list.Length), dataOut: list)).AssertGood();
        Assert.True(dev.Bytes.ToArray().All(b => b == 0x55));
        list = OverwriteList(Enumerable.Repeat((byte)0xAA, 512).ToArray(), count: 3, invert: true);
        (await h.ExecAsync(Sanitize(0x01, list.Length), dataOut: list)).AssertGood();
        Assert.True(dev.Bytes.ToArray().All(b => b == 0xAA));
    }

    [Fact]
    public async Task Overwrite_parameter_checks()
    {
        var (h, dev) = await Create();
        await using var _h = h;
        dev.Bytes.Fill(7);
        var block = new byte[512];
        // PARAMETER LIST LENGTH must be 5 .. block size + 4 (SBC-4 §5.30.2.2): INVALID FIELD IN CDB byte 7.
        foreach (int length in new[] { 0, 4, 517 })
        {
            var r = await h.ExecAsync(Sanitize(0x01, length), dataOut: new byte[520]);
            r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
            Assert.Equal(7, r.SenseInfo.Specific.Field);
        }
        (await h.ExecAsync(Sanitize(0x01, 516), dataOut: OverwriteList(block, count: 0))).AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);
        (await h.ExecAsync(Sanitize(0x01, 516), dataOut: OverwriteList(block, patternLength: 0))).AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);
        (await h.ExecAsync(Sanitize(0x01, 12), dataOut: OverwriteList(new byte[8], patternLength: 9))).AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);
        // BLOCK ERASE, CRYPTOGRAPHIC ERASE and EXIT FAILURE MODE take no parameter list.
        (await h.ExecAsync(Sanitize(0x1F, 8), dataOut: new byte[8])).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        // Reserved bit 6 of byte 1 and reserved bytes 2-6.
        var reserved = Sanitize(0x1F);
        reserved[1] |= 0x40;
        (await h.ExecAsync(reserved)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        reserved = Sanitize(0x1F);
        reserved[4] = 4;
        (await h.ExecAsync(reserved)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        // Service actions other than 01h, 02h, 03h, 1Fh.
        (await h.ExecAsync(Sanitize(0x00))).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        (await h.ExecAsync(Sanitize(0x04))).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.True(dev.Bytes.ToArray().All(b => b == 7));
    }

    [Fact]
    public async Task Block_and_crypto_erase_deallocate_everything_on_a_thin_lu()
    {
        var (h, dev) = await Create(new TestBlockDevice(256, capabilities: ThinCaps));
        await using var _h = h;
        dev.Bytes.Fill((byte)'a');
        (await h.ExecAsync(Sanitize(0x02))).AssertGood();
        Assert.True(dev.Bytes.ToArray().All(b => b == 0));
        Assert.True(Enumerable.Range(0, 256).All(i => dev.IsUnmapped(i)));
        dev.Bytes.Fill((byte)'b');
        (await h.ExecAsync(Sanitize(0x03))).AssertGood();
        Assert.True(dev.Bytes.ToArray().All(b => b == 0));
        // VPD B1h: WABEREQ = WACEREQ = 01b (reads after the erase complete GOOD).
        var b1 = await h.ExecAsync(Cdbs.Inquiry(255, evpd: true, page: 0xB1), 255);
        Assert.Equal(0x50, b1.Data[7]);
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertGood();
    }

    [Fact]
    public async Task Block_erase_on_a_thick_lu_is_an_unsupported_service_action_and_not_reported()
    {
        var (h, _) = await Create();
        await using var _h = h;
        var r = await h.ExecAsync(Sanitize(0x02));
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb); // not INVALID COMMAND OPERATION CODE: SANITIZE exists
        Assert.Equal(1, r.SenseInfo.Specific.Field);
        byte[] rsoc = [0xA3, 0x0C, 0x02, 0x48, 0x00, 0x02, 0, 0, 0, 64, 0, 0];
        Assert.Equal(0x01, (await h.ExecAsync(rsoc, 64)).Data[1] & 0x07); // not supported
        rsoc[5] = 0x01;
        var overwrite = await h.ExecAsync(rsoc, 64);
        Assert.Equal(0x03, overwrite.Data[1] & 0x07);
        Assert.Equal(0xA1, overwrite.Data[5]); // usage map: IMMED, AUSE, service action
        var b1 = await h.ExecAsync(Cdbs.Inquiry(255, evpd: true, page: 0xB1), 255);
        Assert.Equal(0x00, b1.Data[7]); // WABEREQ = WACEREQ = 0
    }

    [Fact]
    public async Task While_sanitize_runs_commands_get_not_ready_with_progress_and_it_survives_a_reset()
    {
        var dev = new TestBlockDevice(256);
        var (h, _) = await Create(dev);
        await using var _h = h;
        dev.HoldWrites();
        var list = OverwriteList([0xAA]);
        var r = await h.ExecAsync(Sanitize(0x01, list.Length, immed: true), dataOut: list);
        r.AssertGood(); // IMMED: status once the CDB and parameter list are checked
        await dev.WriteStarted.Task.WaitAsync(Patience);

        var tur = await h.ExecAsync(Cdbs.TestUnitReady());
        tur.AssertCheckCondition(SenseCodes.SanitizeInProgress);
        Assert.True(tur.SenseInfo.Specific.IsValid); // SKSV with the progress indication
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertCheckCondition(SenseCodes.SanitizeInProgress);
        (await h.ExecAsync(Sanitize(0x01, list.Length), dataOut: list)).AssertCheckCondition(SenseCodes.SanitizeInProgress);
        (await h.ExecAsync(Cdbs.Inquiry(96), 96)).AssertGood();
        var sense = await h.ExecAsync(Cdbs.RequestSense(), 252);
        sense.AssertGood();
        Assert.True(SenseData.TryParse(sense.Data, out var info));
        Assert.Equal(SenseCodes.SanitizeInProgress, info.Code);

        // SBC-4 §4.11.2: a reset does not stop the sanitize operation.
        var reset = SrbPool.Shared.Rent();
        reset.Function = SrbFunction.ResetLogicalUnit;
        reset.Address = DiskHarness.Lun0;
        await h.Adapter.ExecuteAsync(reset).AsTask().WaitAsync(Patience);
        reset.Release();
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertCheckCondition(SenseCodes.SanitizeInProgress);

        dev.ReleaseWrites();
        for (int i = 0; i < 500 && (await h.ExecAsync(Cdbs.TestUnitReady())).ScsiStatus != ScsiStatus.Good; i++) await Task.Delay(10);
        (await h.ExecAsync(Cdbs.TestUnitReady())).AssertGood();
        Assert.True(dev.Bytes.ToArray().All(b => b == 0xAA));
    }

    [Fact]
    public async Task Without_immed_status_comes_when_the_operation_ends()
    {
        var dev = new TestBlockDevice(256);
        var (h, _) = await Create(dev);
        await using var _h = h;
        dev.HoldWrites();
        var list = OverwriteList([0x5A]);
        var srb = DiskHarness.Prepare(Sanitize(0x01, list.Length), dataOut: list);
        var pending = h.Adapter.ExecuteAsync(srb).AsTask();
        await dev.WriteStarted.Task.WaitAsync(Patience);
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        dev.ReleaseWrites();
        await pending.WaitAsync(Patience);
        Assert.Equal(ScsiStatus.Good, srb.ScsiStatus);
        srb.Release();
        Assert.True(dev.Bytes.ToArray().All(b => b == 0x5A));
    }

    [Fact]
    public async Task A_failed_sanitize_enters_failure_mode_which_exit_failure_mode_ends_only_with_ause()
    {
        var dev = new TestBlockDevice(256);
        var (h, _) = await Create(dev);
        await using var _h = h;
        var list = OverwriteList([0x11]);
        dev.FailNext = BlockError.MediumError;
        (await h.ExecAsync(Sanitize(0x01, list.Length), dataOut: list)).AssertCheckCondition(SenseCodes.SanitizeCommandFailed);
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertCheckCondition(SenseCodes.SanitizeCommandFailed);
        (await h.ExecAsync(Sanitize(0x1F))).AssertCheckCondition(SenseCodes.InvalidFieldInCdb); // AUSE was 0
        // A sanitize that succeeds leaves failure mode.
        (await h.ExecAsync(Sanitize(0x01, list.Length), dataOut: list)).AssertGood();
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertGood();

        dev.FailNext = BlockError.MediumError;
        (await h.ExecAsync(Sanitize(0x01, list.Length, ause: true), dataOut: list)).AssertCheckCondition(SenseCodes.SanitizeCommandFailed);
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertCheckCondition(SenseCodes.SanitizeCommandFailed);
        (await h.ExecAsync(Sanitize(0x1F))).AssertGood();
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertGood();
    }

    [Fact]
    public async Task Sanitize_meets_reservations_and_write_protection()
    {
        var def = new ScsiDiskDefinition(DiskHarness.Lun0, new TestBlockDevice(256));
        await using var h = await DiskHarness.CreateAsync(new ScsiDiskMiniportOptions { PowerOnUnitAttention = false }, def);
        var a = new InitiatorNexus("a", "t");
        var b = new InitiatorNexus("b", "t");
        var list = OverwriteList([0x22]);
        (await h.ExecAsync([0x16, 0, 0, 0, 0, 0], nexus: b)).AssertGood(); // RESERVE(6)
        Assert.Equal(ScsiStatus.ReservationConflict, (await h.ExecAsync(Sanitize(0x01, list.Length), dataOut: list, nexus: a)).ScsiStatus);
        (await h.ExecAsync([0x17, 0, 0, 0, 0, 0], nexus: b)).AssertGood();

        var (ro, _) = await DiskHarness.SingleAsync(new TestBlockDevice(256), d => d with { ReadOnly = true });
        await using var _ro = ro;
        (await ro.ExecAsync(Sanitize(0x01, list.Length), dataOut: list)).AssertCheckCondition(SenseCodes.WriteProtected);
    }
}
