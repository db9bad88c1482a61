using System.Buffers.Binary;
using StorSharp.Nbd.Protocol;
using StorSharp.Nbd.Tests.Support;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Server;

/// <summary>
/// The transmission hot path (docs/nbd.md, "Send path"): many requests per receive, their replies
/// batched into gather writes, large READ payloads sent from the SRB's own buffer, WRITE payload
/// tails received straight into the SRB's buffer, replies from other threads joining the batches,
/// back-pressure when the client stops reading, and a client that vanishes mid-batch.
/// </summary>
public class SendPathTests
{
    private static async Task<(TestNbdServer T, RawNbdClient C)> OpenAsync(bool structured = true, int diskBytes = 16 * 1024 * 1024,
        Action<NbdServerOptions>? configure = null)
    {
        var t = await TestNbdServer.StartAsync([new MemoryDisk(diskBytes)], maxTransfer: 8 * 1024 * 1024, configure: configure);
        var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.GoAsync(structured: structured);
        return (t, c);
    }

    private static byte[] Request(NbdCommand command, ulong cookie, ulong offset, uint length, ReadOnlySpan<byte> payload = default, NbdCommandFlags flags = 0)
    {
        var b = new byte[NbdTransmissionCodec.RequestLength + payload.Length];
        NbdTransmissionCodec.TryWriteRequest(b, new NbdRequest(flags, command, cookie, offset, length), out _);
        payload.CopyTo(b.AsSpan(NbdTransmissionCodec.RequestLength));
        return b;
    }

    /// <summary>Reads one READ reply of either kind when the lengths are known by cookie (replies may come in any order).</summary>
    private static async Task<(uint Error, ulong Cookie, byte[] Data)> ReadAnyReadReplyAsync(RawNbdClient c, Func<ulong, uint> lengthOf)
    {
        if (c.Structured)
        {
            var (header, payload) = await c.ReadChunkAsync();
            if (header.Type == NbdReplyChunkType.Error) return (BinaryPrimitives.ReadUInt32BigEndian(payload), header.Cookie, []);
            Assert.Equal(NbdReplyChunkType.OffsetData, header.Type);
            Assert.True((header.Flags & NbdReplyFlags.Done) != 0);
            Assert.Equal(lengthOf(header.Cookie), (uint)(payload.Length - 8));
            return (0, header.Cookie, payload[8..]);
        }
        var (error, cookie) = await c.ReadSimpleReplyAsync();
        return (error, cookie, error == 0 ? await c.ReadExactAsync((int)lengthOf(cookie)) : []);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ManyRequestsInOneSendAreAllAnsweredIntact(bool structured)
    {
        var (t, c) = await OpenAsync(structured);
        await using var _ = t;
        await using var __ = c;
        // 100 writes of 4 KiB in one client write (more than one reply batch's worth of headers
        // is not needed: 100 small replies), then 100 reads of the same blocks in one write: their
        // 400 KiB of copied payload overflow one batch buffer, so several sends are needed.
        var data = new byte[100 * 4096];
        new Random(7).NextBytes(data);
        var all = new MemoryStream();
        for (int i = 0; i < 100; i++) all.Write(Request(NbdCommand.Write, (ulong)i, (ulong)i * 8192, 4096, data.AsSpan(i * 4096, 4096)));
        await c.WriteAsync(all.ToArray());
        var seen = new HashSet<ulong>();
        for (int i = 0; i < 100; i++)
        {
            var (error, cookie) = await c.ReadSimpleReplyAsync();
            Assert.Equal(0u, error);
            Assert.True(seen.Add(cookie), $"cookie {cookie} answered twice");
        }
        all.SetLength(0);
        for (int i = 0; i < 100; i++) all.Write(Request(NbdCommand.Read, 1000 + (ulong)i, (ulong)i * 8192, 4096));
        await c.WriteAsync(all.ToArray());
        seen.Clear();
        for (int i = 0; i < 100; i++)
        {
            var (error, cookie, back) = await ReadAnyReadReplyAsync(c, _ => 4096);
            Assert.Equal(0u, error);
            Assert.True(seen.Add(cookie));
            int k = (int)(cookie - 1000);
            Assert.Equal(data.AsSpan(k * 4096, 4096).ToArray(), back);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task LargeAndSmallReadsInOneBatchComeBackIntact(bool structured)
    {
        var (t, c) = await OpenAsync(structured);
        await using var _ = t;
        await using var __ = c;
        new Random(3).NextBytes(t.Disks[0].Bytes.AsSpan(0, 16 * 1024 * 1024));
        // Payloads sent in place (1 MiB, 256 KiB, 64 KiB, 16 KiB) and copied (below 16 KiB), mixed,
        // more than 8 MiB in all (so more than one send), with an error reply in the middle.
        var lengths = new uint[] { 1 << 20, 4096, 1 << 20, 256 << 10, 1 << 20, 64 << 10, 512, 16 << 10, 1 << 20, 1 << 20, 8192, 1 << 20, 1 << 20, 1 << 20, 1 << 20 };
        var all = new MemoryStream();
        for (int i = 0; i < lengths.Length; i++) all.Write(Request(NbdCommand.Read, (ulong)i, (ulong)i << 20, lengths[i]));
        all.Write(Request(NbdCommand.Read, 99, 1ul << 40, 4096)); // out of range: EINVAL
        await c.WriteAsync(all.ToArray());
        var seen = new HashSet<ulong>();
        for (int i = 0; i <= lengths.Length; i++)
        {
            var (error, cookie, back) = await ReadAnyReadReplyAsync(c, k => k == 99 ? 4096 : lengths[k]);
            Assert.True(seen.Add(cookie));
            if (cookie == 99) { Assert.Equal(22u, error); continue; }
            Assert.Equal(0u, error);
            Assert.Equal(t.Disks[0].Bytes.AsSpan((int)cookie << 20, (int)lengths[cookie]).ToArray(), back);
        }
    }

    [Fact]
    public async Task LargeWritePayloadArrivingInPiecesLandsIntact()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        var data = new byte[3 << 20];
        new Random(5).NextBytes(data);
        var request = Request(NbdCommand.Write, 1, 1 << 20, (uint)data.Length, data);
        // The header with a sliver of payload, then the rest in uneven pieces, then (in the same
        // client write as the payload's end) a READ: the tail is read straight into the SRB's
        // buffer and must not swallow the next request.
        var read = Request(NbdCommand.Read, 2, (1 << 20) + 4096, 4096);
        int[] cuts = [NbdTransmissionCodec.RequestLength + 100, 70_000, 1_000_000, request.Length];
        int at = 0;
        foreach (int cut in cuts)
        {
            if (cut == request.Length) await c.WriteAsync(request.AsMemory(at).ToArray().Concat(read).ToArray());
            else await c.WriteAsync(request.AsMemory(at, cut - at));
            at = cut;
            await Task.Delay(20);
        }
        Assert.Equal((0u, 1ul), await c.ReadSimpleReplyAsync());
        var (error, cookie, back) = await c.ReadReadReplyAsync(4096);
        Assert.Equal((0u, 2ul), (error, cookie));
        Assert.Equal(data.AsSpan(4096, 4096).ToArray(), back);
        Assert.Equal(data, t.Disks[0].Bytes.AsSpan(1 << 20, data.Length).ToArray());
    }

    [Fact]
    public async Task RepliesCompletedOnOtherThreadsInterleaveWithStructuredChunks()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        new Random(11).NextBytes(t.Disks[0].Bytes.AsSpan(0, 4 << 20));
        t.Miniport.CompleteAsynchronously = true; // completions arrive on pool threads, not inline
        var all = new MemoryStream();
        for (int i = 0; i < 20; i++)
        {
            all.Write(Request(NbdCommand.Read, (ulong)(10 * i + 1), (ulong)i * 65536, i % 2 == 0 ? 4096u : 128u << 10));
            all.Write(Request(NbdCommand.BlockStatus, (ulong)(10 * i + 2), 0, 1 << 20));
            all.Write(Request(NbdCommand.Read, (ulong)(10 * i + 3), 1ul << 40, 512)); // EINVAL: an error chunk
        }
        await c.WriteAsync(all.ToArray());
        int reads = 0, statuses = 0, errors = 0;
        for (int i = 0; i < 60; i++)
        {
            var (header, payload) = await c.ReadChunkAsync();
            Assert.True((header.Flags & NbdReplyFlags.Done) != 0);
            int n = (int)(header.Cookie / 10);
            switch (header.Cookie % 10)
            {
                case 1:
                    Assert.Equal(NbdReplyChunkType.OffsetData, header.Type);
                    Assert.Equal((ulong)n * 65536, BinaryPrimitives.ReadUInt64BigEndian(payload));
                    Assert.Equal(t.Disks[0].Bytes.AsSpan(n * 65536, payload.Length - 8).ToArray(), payload[8..]);
                    reads++;
                    break;
                case 2:
                    Assert.Equal(NbdReplyChunkType.BlockStatus, header.Type);
                    Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(payload)); // base:allocation context
                    statuses++;
                    break;
                default:
                    Assert.Equal(NbdReplyChunkType.Error, header.Type);
                    Assert.Equal(22u, BinaryPrimitives.ReadUInt32BigEndian(payload));
                    errors++;
                    break;
            }
        }
        Assert.Equal((20, 20, 20), (reads, statuses, errors));
    }

    [Theory]
    [InlineData(0)]          // the kernel's autotuning
    [InlineData(4096)]       // the smallest buffer: every large reply leaves in many partial sends
    [InlineData(384 * 1024)] // the default
    public async Task LargeReadsArriveIntactWhateverTheSendBuffer(int sendBufferSize)
    {
        var (t, c) = await OpenAsync(diskBytes: 32 << 20, configure: o => o.SendBufferSize = sendBufferSize);
        await using var _ = t;
        await using var __ = c;
        new Random(sendBufferSize).NextBytes(t.Disks[0].Bytes.AsSpan(0, 32 << 20));
        var all = new MemoryStream();
        for (int i = 0; i < 8; i++) all.Write(Request(NbdCommand.Read, (ulong)i, (ulong)i << 22, 4 << 20));
        await c.WriteAsync(all.ToArray());
        var seen = new HashSet<ulong>();
        for (int i = 0; i < 8; i++)
        {
            var (error, cookie, back) = await ReadAnyReadReplyAsync(c, _ => 4 << 20);
            Assert.Equal(0u, error);
            Assert.True(seen.Add(cookie));
            Assert.Equal(t.Disks[0].Bytes.AsSpan((int)cookie << 22, 4 << 20).ToArray(), back);
        }
    }

    [Fact]
    public async Task ClientThatStopsReadingStopsTheServerReadingWithinTheByteBudget()
    {
        // 4 MiB payloads at most, 8 MiB in flight per connection: the server may hold about 8 MiB
        // of unsent READ replies (plus what the sockets buffer), then stops taking requests.
        var (t, c) = await OpenAsync(diskBytes: 64 << 20, configure: o =>
        {
            o.MaxPayload = 4 << 20;
            o.MaxInFlightBytesPerConnection = 8 << 20;
        });
        await using var _ = t;
        await using var __ = c;
        new Random(13).NextBytes(t.Disks[0].Bytes.AsSpan(0, 64 << 20));
        var all = new MemoryStream();
        for (int i = 0; i < 64; i++) all.Write(Request(NbdCommand.Read, (ulong)i, (ulong)i << 20, 1 << 20));
        int before = Volatile.Read(ref t.Miniport.Requests);
        await c.WriteAsync(all.ToArray()); // 1.8 KiB of requests for 64 MiB of replies; nothing is read yet
        // Wait until the server has stopped taking requests (the count holds still for 500 ms; a busy
        // machine may take a while to get there), then check where it stopped.
        int served = -1;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        for (int stableFor = 0; stableFor < 5 && DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            int now = Volatile.Read(ref t.Miniport.Requests) - before;
            stableFor = now == served ? stableFor + 1 : 0;
            served = now;
        }
        // Loopback buffers take a few MiB of replies; the budget another 8 MiB. Far from all 64.
        Assert.InRange(served, 8, 40);
        await Task.Delay(300);
        Assert.Equal(served, Volatile.Read(ref t.Miniport.Requests) - before); // and it stays stopped
        // Reading the replies lets the server go on; every reply arrives intact.
        var seen = new HashSet<ulong>();
        for (int i = 0; i < 64; i++)
        {
            var (error, cookie, back) = await ReadAnyReadReplyAsync(c, _ => 1 << 20);
            Assert.Equal(0u, error);
            Assert.True(seen.Add(cookie));
            Assert.Equal(t.Disks[0].Bytes.AsSpan((int)cookie << 20, 1 << 20).ToArray(), back);
        }
    }

    [Fact]
    public async Task ClientVanishingMidBatchLeavesTheServerServingOthers()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(16 << 20)], maxTransfer: 8 * 1024 * 1024);
        var gone = await RawNbdClient.ConnectAsync(t.TcpPort);
        await gone.GoAsync();
        var all = new MemoryStream();
        for (int i = 0; i < 32; i++) all.Write(Request(NbdCommand.Read, (ulong)i, (ulong)i << 19, 512 << 10));
        all.Write(Request(NbdCommand.Write, 99, 0, 4096, new byte[100])[..(NbdTransmissionCodec.RequestLength + 100)]); // a WRITE cut short
        await gone.WriteAsync(all.ToArray());
        await gone.ReadExactAsync(1000); // the server is sending
        gone.Abort(); // RST with replies still queued and a payload half received
        await WaitUntilAsync(() => t.Server.ConnectionCount == 0);

        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.GoAsync();
        await c.SendRequestAsync(NbdCommand.Write, 1, 4096, 4096, payload: Enumerable.Repeat((byte)0xA5, 4096).ToArray());
        Assert.Equal((0u, 1ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Read, 2, 4096, 4096);
        Assert.All((await c.ReadReadReplyAsync(4096)).Data, b => Assert.Equal(0xA5, b));
    }

    [Fact]
    public async Task StoppingTheServerEndsAnIdleConnection()
    {
        var t = await TestNbdServer.StartAsync();
        await using var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.GoAsync();
        await c.SendRequestAsync(NbdCommand.Read, 1, 0, 512);
        Assert.Equal(0u, (await c.ReadReadReplyAsync(512)).Error);
        await t.DisposeAsync(); // throws if the server does not stop
        Assert.True(await c.IsClosedByServerAsync());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not reached in 10 s");
            await Task.Delay(10);
        }
    }
}
