using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Session;
using StorSharp.Port;

namespace StorSharp.Iscsi.Tests;

/// <summary>
/// The end of a session is the end of its I_T nexus (SAM-5 §6.3.4): the LUs hear of it through an
/// IoControl SRB, so a RESERVE taken through the session is released (libiscsi Reserve6.Logout,
/// Reserve6.ITNexusLoss); a TARGET COLD RESET ends every session of the target (RFC 7143 §11.5.1).
/// </summary>
public sealed class NexusLossTests
{
    private const string Initiator = "iqn.2026-11.org.storsharp:mini";

    /// <summary>SRB_IO_CONTROL for StorSharp.Scsi.ScsiDiskControl.ItNexusLoss; the SCSI tests check the same bytes.</summary>
    internal static readonly byte[] ExpectedHeader =
    [
        28, 0, 0, 0,                                   // HeaderLength
        (byte)'S', (byte)'t', (byte)'o', (byte)'r', (byte)'S', (byte)'h', (byte)'r', (byte)'p', // Signature
        0, 0, 0, 0,                                    // Timeout
        1, 0, 0, 0,                                    // ControlCode: I_T NEXUS LOSS
        0, 0, 0, 0,                                    // ReturnCode
        0, 0, 0, 0,                                    // Length
    ];

    private static async Task<MiniInitiator> LoggedInAsync(TestTarget t, ulong isid)
    {
        var c = await MiniInitiator.ConnectAsync(t.Endpoint);
        c.Isid = isid;
        Assert.Equal(LoginStatus.Success, (await c.LoginAsync(Initiator, TestTarget.TargetName)).Status);
        return c;
    }

    private static async Task<List<(ScsiAddress Address, string InitiatorPort, byte[] Header)>> WaitForControlsAsync(TestTarget t, int count)
    {
        for (int i = 0; i < 200 && t.Miniport.Controls.Count < count; i++) await Task.Delay(10);
        return [.. t.Miniport.Controls];
    }

    [Fact]
    public void Header_layout_is_the_scsi_disk_miniports()
    {
        var header = new byte[NexusLoss.HeaderLength];
        header.AsSpan().Fill(0xEE);
        NexusLoss.WriteHeader(header);
        Assert.Equal(ExpectedHeader, header);
    }

    [Fact]
    public async Task Logout_tells_every_lun_of_the_target_before_the_response()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t, 0x023D_0000_0077);
        Assert.Empty(t.Miniport.Controls);
        var bhs = new byte[48];
        new LogoutRequestPdu { Immediate = true, Reason = LogoutReason.CloseSession, InitiatorTaskTag = 3, CmdSN = c.CmdSN }.WriteTo(bhs);
        await c.SendAsync(bhs);
        var pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.LogoutResponse, pdu!.Opcode);
        // Submitted before the Logout Response went out, and only once although the close follows.
        Assert.Equal(2, t.Miniport.Controls.Count);
        Assert.True(await c.WaitClosedAsync());
        await Task.Delay(50);
        var controls = t.Miniport.Controls.ToArray();
        Assert.Equal(2, controls.Length);
        Assert.Equal([new ScsiAddress(0, 0, 0), new ScsiAddress(0, 0, 1)], controls.Select(x => x.Address).OrderBy(a => a.Lun));
        Assert.All(controls, x => Assert.Equal($"{Initiator},i,0x023d00000077", x.InitiatorPort));
        Assert.All(controls, x => Assert.Equal(ExpectedHeader, x.Header));
    }

    [Fact]
    public async Task A_dropped_connection_ends_the_nexus_too()
    {
        await using var t = await TestTarget.StartAsync();
        var c = await LoggedInAsync(t, 0x023D_0000_0078);
        await c.DisposeAsync();
        var controls = await WaitForControlsAsync(t, 2);
        Assert.Equal(2, controls.Count);
        Assert.All(controls, x => Assert.Equal($"{Initiator},i,0x023d00000078", x.InitiatorPort));
    }

    [Fact]
    public async Task Target_cold_reset_drops_every_session_of_the_target()
    {
        await using var t = await TestTarget.StartAsync();
        await using var a = await LoggedInAsync(t, 0x023D_0000_0001);
        await using var b = await LoggedInAsync(t, 0x023D_0000_0002);
        var tmf = new byte[48];
        new TaskManagementRequestPdu { Immediate = true, Function = TaskManagementFunction.TargetColdReset, InitiatorTaskTag = 0x500, ReferencedTaskTag = Bhs.ReservedTag, CmdSN = a.CmdSN }.WriteTo(tmf);
        await a.SendAsync(tmf);
        var pdu = await a.ReceiveAsync();
        Assert.Equal((IscsiOpcode.TaskManagementResponse, (byte)TaskManagementResponse.FunctionComplete), (pdu!.Opcode, pdu.Header[2]));
        Assert.True(await a.WaitClosedAsync());
        Assert.True(await b.WaitClosedAsync()); // the other session to the same target ends as well
        for (int i = 0; i < 200 && t.Server.SessionCount > 0; i++) await Task.Delay(10);
        Assert.Equal(0, t.Server.SessionCount);
    }
}
