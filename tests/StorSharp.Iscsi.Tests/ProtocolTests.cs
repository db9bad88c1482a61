using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Session;

namespace StorSharp.Iscsi.Tests;

/// <summary>The target against a hand-driven initiator: normal flows and hostile PDUs, each answered as RFC 7143 says while other sessions keep working.</summary>
public sealed class ProtocolTests
{
    private const string Initiator = "iqn.2026-11.org.storsharp:mini";

    private static async Task<MiniInitiator> LoggedInAsync(TestTarget t, ulong isid = 0x023D_0000_0001, params (string, string)[] keys)
    {
        var c = await MiniInitiator.ConnectAsync(t.Endpoint);
        c.Isid = isid;
        var resp = await c.LoginAsync(Initiator, TestTarget.TargetName, keys);
        Assert.Equal(LoginStatus.Success, resp.Status);
        return c;
    }

    private static async Task AssertAliveAsync(MiniInitiator c)
    {
        var bhs = new byte[48];
        new NopOutPdu { Immediate = true, InitiatorTaskTag = c.NextItt++, TargetTransferTag = Bhs.ReservedTag, CmdSN = c.CmdSN, ExpStatSN = c.ExpStatSN }.WriteTo(bhs);
        await c.SendAsync(bhs, new byte[] { 1, 2, 3 });
        ReceivedPdu? pdu;
        do pdu = await c.ReceiveAsync(); while (pdu is not null && pdu.Opcode != IscsiOpcode.NopIn);
        Assert.NotNull(pdu);
        Assert.Equal([1, 2, 3], pdu!.Data);
    }

    private static byte[] Read10(uint lba, ushort blocks) => [0x28, 0, (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(blocks >> 8), (byte)blocks, 0];
    private static byte[] Write10(uint lba, ushort blocks) => [0x2A, 0, (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(blocks >> 8), (byte)blocks, 0];

    [Theory]
    [InlineData(0)]          // the kernel's autotuning
    [InlineData(4096)]       // the smallest: every Data-In burst leaves in many partial sends
    [InlineData(384 * 1024)] // the default
    public async Task A_large_read_arrives_intact_whatever_the_send_buffer(int sendBufferSize)
    {
        await using var t = await TestTarget.StartAsync(o => o.SendBufferSize = sendBufferSize);
        await using var c = await LoggedInAsync(t);
        var disk = t.Miniport.Disk(0);
        new Random(sendBufferSize).NextBytes(disk);
        var (status, data, _, _) = await c.ExecuteAsync(Read10(0, (ushort)(disk.Length / 512)), (uint)disk.Length, read: true);
        Assert.Equal(0, status);
        Assert.Equal(disk, data);
        Assert.Throws<ArgumentException>(() => new IscsiTargetOptions { SendBufferSize = -1 }.Validate());
    }

    [Fact]
    public async Task Write_with_r2t_then_read_back_across_many_pdus()
    {
        await using var t = await TestTarget.StartAsync();
        // InitialR2T=Yes and ImmediateData=No force every byte through R2Ts; small segments and bursts force many of them.
        await using var c = await LoggedInAsync(t, keys: [("InitialR2T", "Yes"), ("ImmediateData", "No"), ("MaxRecvDataSegmentLength", "4096"), ("MaxBurstLength", "16384"), ("MaxOutstandingR2T", "2")]);
        var payload = new byte[64 * 1024];
        new Random(1).NextBytes(payload);
        var bhs = c.CommandHeader(Write10(10, 128), (uint)payload.Length, read: false, write: true);
        uint itt = Bhs.InitiatorTaskTag(bhs);
        await c.SendAsync(bhs);
        int r2ts = 0;
        while (true)
        {
            var pdu = await c.ReceiveAsync() ?? throw new Xunit.Sdk.XunitException("no reply");
            if (pdu.Opcode == IscsiOpcode.ScsiResponse) { Assert.Equal(0, pdu.Header[3]); break; }
            Assert.Equal(IscsiOpcode.ReadyToTransfer, pdu.Opcode);
            R2tPdu.TryRead(pdu.Header, out var r2t);
            Assert.Equal((uint)r2ts++, r2t.R2TSN);
            Assert.True(r2t.DesiredDataTransferLength <= 16384);
            uint sn = 0;
            for (uint off = 0; off < r2t.DesiredDataTransferLength; off += 4096)
            {
                int len = (int)Math.Min(4096, r2t.DesiredDataTransferLength - off);
                var d = new byte[48];
                new DataOutPdu { Final = off + (uint)len == r2t.DesiredDataTransferLength, InitiatorTaskTag = itt, TargetTransferTag = r2t.TargetTransferTag, DataSN = sn++, BufferOffset = r2t.BufferOffset + off, ExpStatSN = c.ExpStatSN }.WriteTo(d);
                await c.SendAsync(d, payload.AsMemory((int)(r2t.BufferOffset + off), len));
            }
        }
        Assert.Equal(4, r2ts);
        Assert.Equal(payload, t.Miniport.Disk(0).AsSpan(10 * 512, payload.Length).ToArray());
        var (status, data, final, _) = await c.ExecuteAsync(Read10(10, 128), (uint)payload.Length, read: true);
        Assert.Equal(0, status);
        Assert.Equal(payload, data);
        Assert.Equal(IscsiOpcode.ScsiDataIn, final.Opcode); // status rides on the last Data-In (S bit)
    }

    [Fact]
    public async Task Immediate_and_unsolicited_data_are_accepted()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t, keys: [("InitialR2T", "No"), ("ImmediateData", "Yes"), ("FirstBurstLength", "8192"), ("MaxBurstLength", "65536")]);
        var payload = new byte[16384];
        new Random(2).NextBytes(payload);
        var bhs = c.CommandHeader(Write10(0, 32), (uint)payload.Length, read: false, write: true, final: false);
        uint itt = Bhs.InitiatorTaskTag(bhs);
        await c.SendAsync(bhs, payload.AsMemory(0, 4096));
        var d = new byte[48];
        new DataOutPdu { Final = true, InitiatorTaskTag = itt, TargetTransferTag = Bhs.ReservedTag, DataSN = 0, BufferOffset = 4096 }.WriteTo(d);
        await c.SendAsync(d, payload.AsMemory(4096, 4096));
        var pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.ReadyToTransfer, pdu!.Opcode);
        R2tPdu.TryRead(pdu.Header, out var r2t);
        Assert.Equal((8192u, 8192u), (r2t.BufferOffset, r2t.DesiredDataTransferLength));
        new DataOutPdu { Final = true, InitiatorTaskTag = itt, TargetTransferTag = r2t.TargetTransferTag, DataSN = 0, BufferOffset = 8192 }.WriteTo(d);
        await c.SendAsync(d, payload.AsMemory(8192));
        pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.ScsiResponse, pdu!.Opcode);
        Assert.Equal(0, pdu.Header[3]);
        Assert.Equal(payload, t.Miniport.Disk(0).AsSpan(0, payload.Length).ToArray());
    }

    [Fact]
    public async Task Missing_lun_inquiry_report_luns_and_sense()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t);
        var (status, data, _, _) = await c.ExecuteAsync([0x12, 0, 0, 0, 36, 0], 36, read: true, lun: LunAddressing.Encode(5));
        Assert.Equal(0, status);
        Assert.Equal(0x7F, data[0]); // PQ=3, PDT=1Fh
        (status, data, _, _) = await c.ExecuteAsync([0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], 256, read: true, lun: LunAddressing.Encode(5));
        Assert.Equal(0, status);
        Assert.Equal(8 + 16, data.Length);
        Assert.Equal(0x41, data[16]); // LUN 300, flat space
        Assert.Equal(0x2C, data[17]);
        byte[] tur = [0, 0, 0, 0, 0, 0];
        var (s2, _, final, sense) = await c.ExecuteAsync(tur, 0, read: false, lun: LunAddressing.Encode(5));
        Assert.Equal(2, s2);
        Assert.Equal(IscsiOpcode.ScsiResponse, final.Opcode);
        Assert.Equal((0x05, 0x25), (sense[2] & 0x0F, (int)sense[12]));
    }

    [Fact]
    public async Task Rejected_write_data_is_drained_and_stream_stays_in_sync()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t, keys: [("InitialR2T", "No"), ("FirstBurstLength", "8192")]);
        // A write to a LUN that does not exist, with immediate data and unsolicited Data-Out.
        var bhs = c.CommandHeader(Write10(0, 16), 8192, read: false, write: true, lun: LunAddressing.Encode(9), final: false);
        uint itt = Bhs.InitiatorTaskTag(bhs);
        await c.SendAsync(bhs, new byte[4096]);
        var d = new byte[48];
        new DataOutPdu { Final = true, InitiatorTaskTag = itt, TargetTransferTag = Bhs.ReservedTag, DataSN = 0, BufferOffset = 4096 }.WriteTo(d);
        await c.SendAsync(d, new byte[4096]);
        var pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.ScsiResponse, pdu!.Opcode);
        Assert.Equal(2, pdu.Header[3]);
        var (status, _, _, _) = await c.ExecuteAsync(Read10(0, 1), 512, read: true);
        Assert.Equal(0, status);
    }

    [Fact]
    public async Task Bad_datasn_fails_the_command_only()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t, keys: [("InitialR2T", "No"), ("ImmediateData", "No"), ("FirstBurstLength", "1024")]);
        var bhs = c.CommandHeader(Write10(0, 2), 1024, read: false, write: true, final: false);
        uint itt = Bhs.InitiatorTaskTag(bhs);
        await c.SendAsync(bhs);
        var d = new byte[48];
        for (int i = 0; i < 2; i++)
        {
            new DataOutPdu { Final = i == 1, InitiatorTaskTag = itt, TargetTransferTag = Bhs.ReservedTag, DataSN = 0 /* duplicate */, BufferOffset = (uint)(512 * i) }.WriteTo(d);
            await c.SendAsync(d, new byte[512]);
        }
        var pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.ScsiResponse, pdu!.Opcode);
        Assert.Equal(2, pdu.Header[3]);
        await AssertAliveAsync(c);
    }

    [Fact]
    public async Task Unknown_opcode_and_login_in_ffp_and_snack_are_rejected()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t);
        var bhs = new byte[48];
        bhs[0] = 0x1C; // not an initiator opcode
        await c.SendAsync(bhs);
        var pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.Reject, pdu!.Opcode);
        Assert.Equal((byte)RejectReason.CommandNotSupported, pdu.Header[2]);
        Assert.Equal(0x1C, pdu.Data[0]); // the rejected header comes back
        new LoginRequestPdu { CurrentStage = 1, NextStage = 3, Transit = true }.WriteTo(bhs);
        await c.SendAsync(bhs, MiniInitiator.Text(("InitiatorName", Initiator)));
        pdu = await c.ReceiveAsync();
        Assert.Equal((IscsiOpcode.Reject, (byte)RejectReason.ProtocolError), (pdu!.Opcode, pdu.Header[2]));
        new SnackPdu { Type = 0 }.WriteTo(bhs);
        await c.SendAsync(bhs);
        pdu = await c.ReceiveAsync();
        Assert.Equal((IscsiOpcode.Reject, (byte)RejectReason.SnackReject), (pdu!.Opcode, pdu.Header[2]));
        await AssertAliveAsync(c);
    }

    [Fact]
    public async Task Oversized_data_segment_is_rejected_and_skipped()
    {
        await using var t = await TestTarget.StartAsync(o => o.MaxRecvDataSegmentLength = 8192);
        await using var c = await LoggedInAsync(t);
        var bhs = new byte[48];
        new NopOutPdu { Immediate = true, InitiatorTaskTag = 5, TargetTransferTag = Bhs.ReservedTag }.WriteTo(bhs);
        await c.SendAsync(bhs, new byte[20000]);
        var pdu = await c.ReceiveAsync();
        Assert.Equal((IscsiOpcode.Reject, (byte)RejectReason.ProtocolError), (pdu!.Opcode, pdu.Header[2]));
        await AssertAliveAsync(c);
    }

    [Fact]
    public async Task Digest_errors_reject_data_and_drop_on_header_while_another_session_works()
    {
        await using var t = await TestTarget.StartAsync();
        await using var other = await LoggedInAsync(t, isid: 0x023D_0000_0099);
        await using var c = await LoggedInAsync(t, keys: [("HeaderDigest", "CRC32C"), ("DataDigest", "CRC32C")]);
        Assert.True(c.HeaderDigest && c.DataDigest);
        await AssertAliveAsync(c);
        var bhs = new byte[48];
        new NopOutPdu { Immediate = true, InitiatorTaskTag = 77, TargetTransferTag = Bhs.ReservedTag }.WriteTo(bhs);
        var frame = new byte[PduFramer.FrameLength(0, 4, true, true)];
        PduFramer.Write(frame, bhs, default, new byte[] { 1, 2, 3, 4 }, true, true);
        frame[^1] ^= 0xFF; // data digest
        await c.SendRawAsync(frame);
        var pdu = await c.ReceiveAsync();
        Assert.Equal((IscsiOpcode.Reject, (byte)RejectReason.DataDigestError), (pdu!.Opcode, pdu.Header[2]));
        await AssertAliveAsync(c);
        PduFramer.Write(frame, bhs, default, new byte[] { 1, 2, 3, 4 }, true, true);
        frame[49] ^= 0xFF; // header digest
        await c.SendRawAsync(frame);
        Assert.True(await c.WaitClosedAsync());
        await AssertAliveAsync(other);
    }

    [Fact]
    public async Task Commands_outside_the_cmdsn_window_are_ignored()
    {
        await using var t = await TestTarget.StartAsync(o => o.CommandWindow = 4);
        await using var c = await LoggedInAsync(t);
        uint max = c.MaxCmdSN;
        // A flood beyond MaxCmdSN: silently dropped (RFC 7143 §4.2.2.1).
        for (uint i = 1; i <= 8; i++) await c.SendAsync(c.CommandHeader([0, 0, 0, 0, 0, 0], 0, false, false, cmdSN: max + i));
        Assert.Null(await c.ReceiveAsync(500));
        // And one below ExpCmdSN (a duplicate).
        await c.SendAsync(c.CommandHeader([0, 0, 0, 0, 0, 0], 0, false, false, cmdSN: c.CmdSN - 1));
        Assert.Null(await c.ReceiveAsync(300));
        var (status, _, _, _) = await c.ExecuteAsync([0, 0, 0, 0, 0, 0], 0, read: false);
        Assert.Equal(0, status);
    }

    [Fact]
    public async Task Out_of_order_cmdsn_is_held_until_the_gap_fills()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t);
        uint first = c.CmdSN;
        var later = c.CommandHeader([0, 0, 0, 0, 0, 0], 0, false, false, cmdSN: first + 1);
        await c.SendAsync(later);
        Assert.Null(await c.ReceiveAsync(300));
        await c.SendAsync(c.CommandHeader([0, 0, 0, 0, 0, 0], 0, false, false, cmdSN: first));
        c.CmdSN = first + 2;
        var a = await c.ReceiveAsync();
        var b = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.ScsiResponse, a!.Opcode);
        Assert.Equal(IscsiOpcode.ScsiResponse, b!.Opcode);
        Assert.Equal(first + 2, Bhs.U32(b.Header, 28)); // ExpCmdSN moved past both
    }

    [Fact]
    public async Task Pdus_before_login_and_truncated_headers_close_only_that_connection()
    {
        await using var t = await TestTarget.StartAsync();
        await using var good = await LoggedInAsync(t);
        await using (var c = await MiniInitiator.ConnectAsync(t.Endpoint))
        {
            await c.SendAsync(c.CommandHeader([0, 0, 0, 0, 0, 0], 0, false, false));
            var pdu = await c.ReceiveAsync();
            Assert.Equal(IscsiOpcode.LoginResponse, pdu!.Opcode);
            LoginResponsePdu.TryRead(pdu.Header, out var resp);
            Assert.Equal(LoginStatus.InvalidDuringLogin, resp.Status);
            Assert.True(await c.WaitClosedAsync());
        }
        await using (var c = await MiniInitiator.ConnectAsync(t.Endpoint))
        {
            await c.SendRawAsync(new byte[20]); // a truncated header, then hang up
        }
        await AssertAliveAsync(good);
    }

    [Fact]
    public async Task Login_failures_close_with_status()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await MiniInitiator.ConnectAsync(t.Endpoint);
        var resp = await c.LoginAsync("iqn.2026-11.org.storsharp:stranger", TestTarget.SecondTargetName);
        Assert.Equal(LoginStatus.AuthorizationFailure, resp.Status);
        Assert.True(await c.WaitClosedAsync());
        await using var d = await MiniInitiator.ConnectAsync(t.Endpoint);
        Assert.Equal(LoginStatus.NotFound, (await d.LoginAsync(Initiator, "iqn.2026-11.org.storsharp:nothing")).Status);
    }

    [Fact]
    public async Task Discovery_session_sendtargets_and_no_scsi()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await MiniInitiator.ConnectAsync(t.Endpoint);
        Assert.Equal(LoginStatus.Success, (await c.LoginAsync(Initiator, null)).Status);
        var bhs = new byte[48];
        new TextRequestPdu { Final = true, Immediate = true, InitiatorTaskTag = 9, TargetTransferTag = Bhs.ReservedTag, CmdSN = c.CmdSN }.WriteTo(bhs);
        await c.SendAsync(bhs, MiniInitiator.Text(("SendTargets", "All")));
        var pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.TextResponse, pdu!.Opcode);
        var text = System.Text.Encoding.UTF8.GetString(pdu.Data);
        Assert.Contains($"TargetName={TestTarget.TargetName}", text);
        Assert.Contains($"TargetAddress=127.0.0.1:{t.Endpoint.Port},1", text);
        Assert.DoesNotContain(TestTarget.SecondTargetName, text);
        await c.SendAsync(c.CommandHeader([0, 0, 0, 0, 0, 0], 0, false, false));
        pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.Reject, pdu!.Opcode);
    }

    [Fact]
    public async Task Session_reinstatement_closes_the_old_session()
    {
        await using var t = await TestTarget.StartAsync();
        await using var first = await LoggedInAsync(t, isid: 0x023D_0000_0042);
        await using var second = await LoggedInAsync(t, isid: 0x023D_0000_0042);
        Assert.True(await first.WaitClosedAsync());
        await AssertAliveAsync(second);
        Assert.Equal(1, t.Server.SessionCount);
    }

    [Fact]
    public async Task Abort_task_and_lun_reset_answer_after_the_task_ends()
    {
        await using var t = await TestTarget.StartAsync();
        t.Miniport.HoldLba = 100;
        await using var c = await LoggedInAsync(t);
        var cmd = c.CommandHeader(Read10(100, 1), 512, read: true, write: false);
        uint itt = Bhs.InitiatorTaskTag(cmd);
        uint cmdSN = Bhs.U32(cmd, 24);
        await c.SendAsync(cmd);
        await Task.Delay(100);
        Assert.Equal(1, t.Miniport.HeldCount);
        var tmf = new byte[48];
        new TaskManagementRequestPdu { Immediate = true, Function = TaskManagementFunction.AbortTask, InitiatorTaskTag = 0x999, ReferencedTaskTag = itt, RefCmdSN = cmdSN, CmdSN = c.CmdSN }.WriteTo(tmf);
        await c.SendAsync(tmf);
        var pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.TaskManagementResponse, pdu!.Opcode); // no SCSI Response for the aborted task
        Assert.Equal((byte)TaskManagementResponse.FunctionComplete, pdu.Header[2]);
        new TaskManagementRequestPdu { Immediate = true, Function = TaskManagementFunction.AbortTask, InitiatorTaskTag = 0x99A, ReferencedTaskTag = itt, RefCmdSN = cmdSN, CmdSN = c.CmdSN }.WriteTo(tmf);
        await c.SendAsync(tmf);
        pdu = await c.ReceiveAsync();
        Assert.Equal((byte)TaskManagementResponse.TaskDoesNotExist, pdu!.Header[2]);

        await c.SendAsync(c.CommandHeader(Read10(100, 1), 512, read: true, write: false));
        await Task.Delay(100);
        new TaskManagementRequestPdu { Immediate = true, Function = TaskManagementFunction.LogicalUnitReset, InitiatorTaskTag = 0x99B, ReferencedTaskTag = Bhs.ReservedTag, CmdSN = c.CmdSN }.WriteTo(tmf);
        await c.SendAsync(tmf);
        pdu = await c.ReceiveAsync();
        Assert.Equal((IscsiOpcode.TaskManagementResponse, (byte)0), (pdu!.Opcode, pdu.Header[2]));
        new TaskManagementRequestPdu { Immediate = true, Function = TaskManagementFunction.LogicalUnitReset, InitiatorTaskTag = 0x99C, Lun = LunAddressing.Encode(77), CmdSN = c.CmdSN }.WriteTo(tmf);
        await c.SendAsync(tmf);
        pdu = await c.ReceiveAsync();
        Assert.Equal((byte)TaskManagementResponse.LunDoesNotExist, pdu!.Header[2]);
        t.Miniport.HoldLba = -1;
        var (status, _, _, _) = await c.ExecuteAsync(Read10(100, 1), 512, read: true);
        Assert.Equal(0, status);
    }

    [Fact]
    public async Task Residuals_are_exact_for_reads()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t);
        var (status, data, final, _) = await c.ExecuteAsync(Read10(0, 1), 10000, read: true);
        Assert.Equal(0, status);
        Assert.Equal(512, data.Length);
        Assert.Equal(0x02, final.Header[1] & 0x06); // U
        Assert.Equal(10000u - 512, Bhs.U32(final.Header, 44));
        (status, data, final, _) = await c.ExecuteAsync(Read10(0, 2), 512, read: true);
        Assert.Equal(512, data.Length);
        Assert.Equal(0x04, final.Header[1] & 0x06); // O
        Assert.Equal(512u, Bhs.U32(final.Header, 44));
    }

    [Fact]
    public async Task Logout_closes_the_session()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t);
        var bhs = new byte[48];
        new LogoutRequestPdu { Immediate = true, Reason = LogoutReason.CloseSession, InitiatorTaskTag = 3, CmdSN = c.CmdSN }.WriteTo(bhs);
        await c.SendAsync(bhs);
        var pdu = await c.ReceiveAsync();
        Assert.Equal(IscsiOpcode.LogoutResponse, pdu!.Opcode);
        Assert.Equal(0, pdu.Header[2]);
        Assert.True(await c.WaitClosedAsync());
    }

    [Fact]
    public async Task Target_pings_idle_initiators_and_drops_silent_ones()
    {
        await using var t = await TestTarget.StartAsync(o => { o.NopInInterval = TimeSpan.FromMilliseconds(500); o.NopInTimeout = TimeSpan.FromSeconds(1.5); });
        await using var c = await LoggedInAsync(t);
        var ping = await c.ReceiveAsync(4000);
        Assert.Equal(IscsiOpcode.NopIn, ping!.Opcode);
        Assert.Equal(Bhs.ReservedTag, ping.Itt);
        Assert.True(await c.WaitClosedAsync(6000)); // never answered
    }
}
