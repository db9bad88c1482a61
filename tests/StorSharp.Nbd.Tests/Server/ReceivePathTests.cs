using StorSharp.Nbd.Protocol;
using StorSharp.Nbd.Tests.Support;
using StorSharp.Testing.Disk;
using StorSharp.Transport;

namespace StorSharp.Nbd.Tests.Server;

/// <summary>
/// The receive side's two kernel-facing tunings (docs/nbd.md, "Receive polling"): a client in lock
/// step is polled for, a client with many requests per receive is not; and large WRITE payloads
/// read with a low-water mark arrive intact however the client paces them, with the next small
/// request still answered at once.
/// </summary>
public class ReceivePathTests
{
    private static async Task<(TestNbdServer T, RawNbdClient C)> OpenAsync(TimeSpan window)
    {
        var t = await TestNbdServer.StartAsync([new MemoryDisk(16 * 1024 * 1024)], maxTransfer: 8 * 1024 * 1024,
            configure: o => o.ReceivePollWindow = window);
        var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.GoAsync(structured: false);
        return (t, c);
    }

    private static async Task LockStepRoundTripsAsync(RawNbdClient c, int count)
    {
        var block = new byte[4096];
        for (int i = 0; i < count; i++)
        {
            block.AsSpan().Fill((byte)i);
            ulong offset = (ulong)(i % 64) * 4096;
            await c.SendRequestAsync(NbdCommand.Write, (ulong)(2 * i), offset, 4096, payload: block);
            var (error, cookie) = await c.ReadSimpleReplyAsync();
            Assert.Equal((0u, (ulong)(2 * i)), (error, cookie));
            await c.SendRequestAsync(NbdCommand.Read, (ulong)(2 * i + 1), offset, 4096);
            var (readError, _, data) = await c.ReadReadReplyAsync(4096);
            Assert.Equal(0u, readError);
            Assert.Equal(block, data);
        }
    }

    [Fact]
    public async Task A_client_in_lock_step_is_polled_for_and_gets_its_data_back()
    {
        var (t, c) = await OpenAsync(TimeSpan.FromMilliseconds(10));
        await using var server = t;
        await using var client = c;
        await LockStepRoundTripsAsync(c, 200);
        var polling = t.Server.ReceivePolling;
        if (polling.MaxPollers == 0)
        {
            Assert.Equal(0, polling.Polls); // one processor: polling would only keep the client from running
            return;
        }
        // 400 requests one at a time: apart from the warm-up and every 16th (which sleeps to measure
        // the client again), reads poll; a round trip in process takes well under the 10 ms window.
        Assert.True(polling.Polls > 100, $"only {polling.Polls} polls for 400 lock-step requests");
        Assert.True(polling.Hits > polling.Polls / 2, $"{polling.Hits} of {polling.Polls} polls found the request");
    }

    [Fact]
    public async Task A_client_with_many_requests_per_send_is_not_polled_for()
    {
        var (t, c) = await OpenAsync(TimeSpan.FromMilliseconds(10));
        await using var server = t;
        await using var client = c;
        for (int round = 0; round < 50; round++)
        {
            var batch = new MemoryStream();
            for (int i = 0; i < 8; i++)
            {
                var header = new byte[NbdTransmissionCodec.RequestLength];
                NbdTransmissionCodec.TryWriteRequest(header, new NbdRequest(0, NbdCommand.Read, (ulong)(round * 8 + i), (ulong)i * 4096, 4096), out _);
                batch.Write(header);
            }
            await c.WriteAsync(batch.ToArray()); // eight requests in one send: one receive
            for (int i = 0; i < 8; i++) Assert.Equal(0u, (await c.ReadReadReplyAsync(4096)).Error);
        }
        Assert.Equal(0, t.Server.ReceivePolling.Polls);
    }

    [Fact]
    public async Task Polling_off_never_polls()
    {
        var (t, c) = await OpenAsync(TimeSpan.Zero);
        await using var server = t;
        await using var client = c;
        await LockStepRoundTripsAsync(c, 50);
        Assert.False(t.Server.ReceivePolling.Enabled);
        Assert.Equal(0, t.Server.ReceivePolling.Polls);
    }

    [Fact]
    public async Task A_large_write_paced_in_pieces_arrives_intact_and_the_next_small_request_is_answered_at_once()
    {
        var (t, c) = await OpenAsync(ReceivePolling.DefaultWindow);
        await using var server = t;
        await using var client = c;
        const int length = 3 * 1024 * 1024;
        var payload = new byte[length];
        new Random(11).NextBytes(payload);

        // The header and a first piece, then the rest in uneven pieces with pauses: the server's
        // low-water mark must follow the bytes still missing, never wait for more than will come.
        var header = new byte[NbdTransmissionCodec.RequestLength];
        NbdTransmissionCodec.TryWriteRequest(header, new NbdRequest(0, NbdCommand.Write, 1, 4096, length), out _);
        await c.WriteAsync(header);
        int sent = 0;
        foreach (int piece in new[] { 100_000, 900_000, 70_000, 1_500_000, 40_000 })
        {
            await c.WriteAsync(payload.AsMemory(sent, piece));
            sent += piece;
            await Task.Delay(30);
        }
        await c.WriteAsync(payload.AsMemory(sent)); // the last 536,728 bytes
        var (error, cookie) = await c.ReadSimpleReplyAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((0u, 1ul), (error, cookie));

        // A 28-byte request right after: the mark is back to one byte, so it is served at once.
        await c.SendRequestAsync(NbdCommand.Read, 2, 4096, length);
        var (readError, _, data) = await c.ReadReadReplyAsync(length).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0u, readError);
        Assert.Equal(payload, data);
        await c.SendRequestAsync(NbdCommand.Flush, 3, 0, 0);
        Assert.Equal((0u, 3ul), await c.ReadSimpleReplyAsync().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_client_that_vanishes_inside_a_large_payload_ends_only_its_connection()
    {
        var (t, c) = await OpenAsync(ReceivePolling.DefaultWindow);
        await using var server = t;
        var header = new byte[NbdTransmissionCodec.RequestLength];
        NbdTransmissionCodec.TryWriteRequest(header, new NbdRequest(0, NbdCommand.Write, 1, 0, 2 * 1024 * 1024), out _);
        await c.WriteAsync(header);
        await c.WriteAsync(new byte[300_000]); // the server waits for the rest with a high mark
        c.Abort();
        await c.DisposeAsync();

        await using var other = await RawNbdClient.ConnectAsync(t.TcpPort);
        await other.GoAsync(structured: false);
        await other.SendRequestAsync(NbdCommand.Read, 9, 0, 4096);
        Assert.Equal(0u, (await other.ReadReadReplyAsync(4096).WaitAsync(TimeSpan.FromSeconds(10))).Error);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (t.Server.ConnectionCount > 1 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(1, t.Server.ConnectionCount);
    }
}
