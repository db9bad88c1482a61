using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

/// <summary>The I_T NEXUS LOSS request (<see cref="ScsiDiskControl"/>), as the iSCSI target sends it when a session ends.</summary>
public class NexusLossControlTests
{
    /// <summary>The same bytes the iSCSI tests expect the target to send (StorSharp.Iscsi.Tests.NexusLossTests.ExpectedHeader).</summary>
    private static readonly byte[] ExpectedHeader =
    [
        28, 0, 0, 0, (byte)'S', (byte)'t', (byte)'o', (byte)'r', (byte)'S', (byte)'h', (byte)'r', (byte)'p',
        0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    internal static async Task<SrbStatus> SendNexusLossAsync(DiskHarness h, InitiatorNexus nexus, byte[]? header = null)
    {
        var srb = SrbPool.Shared.Rent();
        srb.Function = SrbFunction.IoControl;
        srb.Address = DiskHarness.Lun0;
        srb.Nexus = nexus;
        srb.Direction = DataDirection.Out;
        (header ?? ExpectedHeader).CopyTo(srb.Data.Rent(ScsiDiskControl.HeaderLength).Span);
        srb.DataTransferLength = ScsiDiskControl.HeaderLength;
        await h.Adapter.ExecuteAsync(srb);
        var status = srb.Status;
        srb.Release();
        return status;
    }

    [Fact]
    public void Request_layout()
    {
        var header = new byte[ScsiDiskControl.HeaderLength];
        header.AsSpan().Fill(0xEE);
        ScsiDiskControl.WriteRequest(header, ScsiDiskControl.ItNexusLoss);
        Assert.Equal(ExpectedHeader, header);
        Assert.True(ScsiDiskControl.TryReadRequest(header, out uint code));
        Assert.Equal(ScsiDiskControl.ItNexusLoss, code);
    }

    [Fact]
    public async Task Nexus_loss_releases_reserve_and_prevention_and_forgets_the_nexus()
    {
        var def = new ScsiDiskDefinition(DiskHarness.Lun0, new TestBlockDevice()) { Removable = true };
        await using var h = await DiskHarness.CreateAsync(def);
        var a = new InitiatorNexus("a", "t");
        var b = new InitiatorNexus("b", "t");
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: a)).AssertCheckCondition(SenseCodes.PowerOnReset);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: b)).AssertCheckCondition(SenseCodes.PowerOnReset);
        (await h.ExecAsync([0x16, 0, 0, 0, 0, 0], nexus: a)).AssertGood();        // RESERVE(6)
        (await h.ExecAsync([0x1E, 0, 0, 0, 1, 0], nexus: a)).AssertGood();        // PREVENT
        Assert.Equal(ScsiStatus.ReservationConflict, (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: b)).ScsiStatus);
        Assert.Equal(SrbStatus.Success, await SendNexusLossAsync(h, a));
        (await h.ExecAsync([0x16, 0, 0, 0, 0, 0], nexus: b)).AssertGood();        // SPC-2 §5.5.1: released
        (await h.ExecAsync([0x17, 0, 0, 0, 0, 0], nexus: b)).AssertGood();
        (await h.ExecAsync([0x1B, 0, 0, 0, 0x02, 0], nexus: b)).AssertGood();     // eject: a's PREVENT ended
        // The lost nexus's state is gone: used again, it starts over with POWER ON.
        (await h.ExecAsync(Cdbs.Inquiry(96), 96, nexus: a)).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: a)).AssertCheckCondition(SenseCodes.PowerOnReset);
    }

    [Fact]
    public async Task Unknown_signature_or_code_is_an_invalid_request()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var other = (byte[])ExpectedHeader.Clone();
        other[4] = (byte)'X';
        Assert.Equal(SrbStatus.InvalidRequest, await SendNexusLossAsync(h, new InitiatorNexus("a", "t"), other));
        var code = (byte[])ExpectedHeader.Clone();
        code[16] = 9;
        Assert.Equal(SrbStatus.InvalidRequest, await SendNexusLossAsync(h, new InitiatorNexus("a", "t"), code));
    }
}
