using StorSharp.Iscsi.Pdu;
using StorSharp.Iscsi.Session;
using StorSharp.Port;

namespace StorSharp.Iscsi.Tests;

/// <summary>
/// The target's LUN table at run time: LUNs added and removed while a session is logged in, the
/// SCSI asynchronous event (RFC 7143 §11.9, AsyncEvent 0) each change sends, and what the session's
/// commands then see.
/// </summary>
public sealed class HotPlugTests
{
    private const string Initiator = "iqn.2026-11.org.storsharp:hotplug";
    private static readonly byte[] ReportLuns = [0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    private static readonly byte[] ReadCapacity10 = [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private static async Task<MiniInitiator> LoggedInAsync(TestTarget t)
    {
        var c = await MiniInitiator.ConnectAsync(t.Endpoint);
        Assert.Equal(LoginStatus.Success, (await c.LoginAsync(Initiator, TestTarget.TargetName)).Status);
        return c;
    }

    /// <summary>The next Asynchronous Message: its LUN field and the sense key, ASC and ASCQ it carries.</summary>
    private static async Task<(ulong Lun, byte Key, byte Asc, byte Ascq)> NextScsiEventAsync(MiniInitiator c)
    {
        while (true)
        {
            var pdu = await c.ReceiveAsync() ?? throw new InvalidOperationException("no Asynchronous Message arrived");
            if (pdu.Opcode != IscsiOpcode.AsyncMessage) continue;
            Assert.True(AsyncMessagePdu.TryRead(pdu.Header, out var message));
            Assert.Equal(AsyncEventCode.ScsiAsyncEvent, message.AsyncEvent);
            Assert.Equal(Bhs.ReservedTag, Bhs.InitiatorTaskTag(pdu.Header));
            int senseLength = Bhs.U16(pdu.Data, 0);
            Assert.Equal(18, senseLength);
            var sense = pdu.Data[2..(2 + senseLength)];
            Assert.Equal(0x70, sense[0]);
            return (message.Lun, (byte)(sense[2] & 0x0F), sense[12], sense[13]);
        }
    }

    private static List<ulong> Luns(byte[] data)
    {
        int length = (int)Bhs.U32(data, 0);
        return [.. Enumerable.Range(0, length / 8).Select(i => LunAddressing.TryDecode(Bhs.U64(data, 8 + 8 * i), out var lun) ? lun : ulong.MaxValue)];
    }

    [Fact]
    public async Task A_removed_lun_leaves_report_luns_answers_not_supported_and_the_session_gets_an_async_event()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t);
        Assert.Equal([0UL, 300UL], Luns((await c.ExecuteAsync(ReportLuns, 256, read: true)).Data));

        Assert.True(t.Server.RemoveLun(TestTarget.TargetName, 300));

        var (lun, key, asc, ascq) = await NextScsiEventAsync(c);
        Assert.Equal(LunAddressing.Encode(300), lun);
        Assert.Equal((0x06, 0x3F, 0x0E), (key, asc, ascq)); // UNIT ATTENTION, REPORTED LUNS DATA HAS CHANGED
        Assert.Equal([0UL], Luns((await c.ExecuteAsync(ReportLuns, 256, read: true)).Data));
        var (status, _, _, sense) = await c.ExecuteAsync(ReadCapacity10, 8, read: true, lun: LunAddressing.Encode(300));
        Assert.Equal((byte)ScsiStatus.CheckCondition, status);
        Assert.Equal((0x05, 0x25, 0x00), (sense[2] & 0x0F, sense[12], sense[13])); // LOGICAL UNIT NOT SUPPORTED
        Assert.False(t.Server.RemoveLun(TestTarget.TargetName, 300));
        Assert.False(t.Server.RemoveLun("iqn.2026-11.org.storsharp:nothing", 0));
    }

    [Fact]
    public async Task An_added_lun_is_listed_and_served_and_the_session_gets_an_async_event()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t);

        await t.Server.AddLunAsync(TestTarget.TargetName, new IscsiLun(5, t.Adapter, new ScsiAddress(0, 0, 1)));

        var (lun, key, asc, ascq) = await NextScsiEventAsync(c);
        Assert.Equal(LunAddressing.Encode(5), lun);
        Assert.Equal((0x06, 0x3F, 0x0E), (key, asc, ascq));
        Assert.Equal([0UL, 5UL, 300UL], Luns((await c.ExecuteAsync(ReportLuns, 256, read: true)).Data));
        var (status, data, _, _) = await c.ExecuteAsync(ReadCapacity10, 8, read: true, lun: LunAddressing.Encode(5));
        Assert.Equal((byte)ScsiStatus.Good, status);
        Assert.Equal(512u, Bhs.U32(data, 4));

        await Assert.ThrowsAsync<ArgumentException>(() => t.Server.AddLunAsync(TestTarget.TargetName, new IscsiLun(5, t.Adapter, new ScsiAddress(0, 0, 0))));
        await Assert.ThrowsAsync<ArgumentException>(() => t.Server.AddLunAsync("iqn.2026-11.org.storsharp:nothing", new IscsiLun(6, t.Adapter, new ScsiAddress(0, 0, 0))));
        Assert.Equal([0UL, 5UL, 300UL], Luns((await c.ExecuteAsync(ReportLuns, 256, read: true)).Data));
    }

    [Fact]
    public async Task A_capacity_change_is_reported_as_an_async_event_to_the_sessions_of_that_target_only()
    {
        await using var t = await TestTarget.StartAsync();
        await using var c = await LoggedInAsync(t);
        await using var other = await MiniInitiator.ConnectAsync(t.Endpoint);
        Assert.Equal(LoginStatus.Success, (await other.LoginAsync("iqn.2026-11.org.storsharp:allowed", TestTarget.SecondTargetName)).Status);

        Assert.True(t.Server.ReportCapacityChanged(TestTarget.TargetName, 0));

        var (lun, key, asc, ascq) = await NextScsiEventAsync(c);
        Assert.Equal((LunAddressing.Encode(0), (byte)0x06, (byte)0x2A, (byte)0x09), (lun, key, asc, ascq)); // CAPACITY DATA HAS CHANGED
        Assert.Null(await other.ReceiveAsync(300));
        Assert.False(t.Server.ReportCapacityChanged(TestTarget.TargetName, 7));
    }
}
