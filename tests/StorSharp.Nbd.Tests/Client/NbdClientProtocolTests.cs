using StorSharp.Block;
using StorSharp.Nbd.Client;
using StorSharp.Nbd.Protocol;
using StorSharp.Nbd.Tests.Client.Support;

namespace StorSharp.Nbd.Tests.Client;

/// <summary>The NBD backend against a scripted in-process server: negotiation, reply matching, garbage, timeouts, reconnects.</summary>
public class NbdClientProtocolTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    private static NbdClientOptions Options(FakeNbdServer server, TimeSpan? timeout = null, TimeSpan? wait = null, bool structured = true, int maxAttempts = 0) => new()
    {
        Address = server.Address,
        RequestTimeout = timeout ?? TimeSpan.FromSeconds(10),
        StructuredReplies = structured,
        Reconnect = new NbdReconnectPolicy
        {
            InitialDelay = TimeSpan.FromMilliseconds(20),
            MaxDelay = TimeSpan.FromMilliseconds(200),
            RequestWait = wait ?? TimeSpan.FromSeconds(10),
            MaxAttempts = maxAttempts,
        },
    };

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Go_reports_size_block_sizes_and_capabilities_from_the_export_flags()
    {
        await using var server = new FakeNbdServer(4 << 20) { MinBlock = 512, PreferredBlock = 4096 };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        Assert.Equal(new BlockGeometry(512, (4 << 20) / 512, 3), device.Geometry);
        var expected = BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.ForceUnitAccess | BlockDeviceCapabilities.WriteZeroes
            | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.ThinProvisioned
            | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.MultiConnection | BlockDeviceCapabilities.NonRotational;
        Assert.Equal(expected, device.Capabilities);
        Assert.True(device.Export.StructuredReplies);
        Assert.Equal(FakeNbdServer.ContextId, device.Export.AllocationContextId);
    }

    [Fact]
    public async Task A_read_only_rotational_export_without_extras_reports_only_that()
    {
        await using var server = new FakeNbdServer { Flags = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.ReadOnly | NbdTransmissionFlags.Rotational, MetaContext = false };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        Assert.Equal(BlockDeviceCapabilities.ReadOnly, device.Capabilities);
        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => device.WriteAsync(0, new byte[512]).AsTask());
        Assert.Equal(BlockError.ReadOnly, e.Error);
        Assert.DoesNotContain(server.Requests, r => r.Command == NbdCommand.Write);
    }

    [Fact]
    public async Task A_server_without_go_or_structured_replies_is_used_through_export_name_and_simple_replies()
    {
        await using var server = new FakeNbdServer(1 << 20) { SupportsGo = false, Structured = false };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));
        byte[] data = Pattern(8192, 1);

        await device.WriteAsync(16, data);
        byte[] read = new byte[8192];
        await device.ReadAsync(16, read);

        Assert.Equal(data, read);
        Assert.False(device.Export.StructuredReplies);
        Assert.Null(device.Export.AllocationContextId);
        Assert.False(device.Capabilities.HasFlag(BlockDeviceCapabilities.Extents));
        var extents = new BlockExtent[4];
        Assert.Equal(1, await device.GetExtentsAsync(0, 10, extents));
        Assert.Equal(new BlockExtent(0, 10, BlockExtentFlags.Data), extents[0]);
        Assert.DoesNotContain(server.Requests, r => r.Command == NbdCommand.BlockStatus);
    }

    [Fact]
    public async Task An_unknown_export_is_a_clear_not_ready_error()
    {
        await using var server = new FakeNbdServer();
        var options = new NbdClientOptions { Address = server.Address with { ExportName = "nosuch" } };

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => NbdBlockDevice.ConnectAsync(options));

        Assert.Equal(BlockError.NotReady, e.Error);
        Assert.Contains("no export 'nosuch'", e.Message);
    }

    [Fact]
    public async Task Replies_in_any_order_reach_the_right_requests()
    {
        await using var server = new FakeNbdServer(1 << 20);
        server.Transmission = async s =>
        {
            var batch = new List<NbdRequest>();
            for (int i = 0; i < 3; i++) batch.Add((await s.ReadRequestAsync())!.Value.Request);
            batch.Reverse();
            foreach (var r in batch) await s.OffsetDataAsync(r.Cookie, r.Offset, Pattern((int)r.Length, (int)r.Offset), done: true);
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));
        byte[][] buffers = [new byte[512], new byte[1024], new byte[4096]];

        var reads = new[] { device.ReadAsync(0, buffers[0]).AsTask(), device.ReadAsync(8, buffers[1]).AsTask(), device.ReadAsync(64, buffers[2]).AsTask() };
        await Task.WhenAll(reads).WaitAsync(Limit);

        Assert.Equal(Pattern(512, 0), buffers[0]);
        Assert.Equal(Pattern(1024, 8 * 512), buffers[1]);
        Assert.Equal(Pattern(4096, 64 * 512), buffers[2]);
    }

    [Fact]
    public async Task A_read_assembled_from_data_and_hole_chunks_in_any_order()
    {
        await using var server = new FakeNbdServer(1 << 20);
        byte[] tail = Pattern(1024, 5);
        server.Transmission = async s =>
        {
            var r = (await s.ReadRequestAsync())!.Value.Request;
            await s.OffsetDataAsync(r.Cookie, r.Offset + 3072, tail, done: false);
            await s.OffsetHoleAsync(r.Cookie, r.Offset + 1024, 2048, done: false);
            await s.OffsetDataAsync(r.Cookie, r.Offset, tail.AsMemory(0, 1024), done: false);
            await s.NoneChunkAsync(r.Cookie);
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));
        byte[] read = Enumerable.Repeat((byte)0xEE, 4096).ToArray();

        await device.ReadAsync(2, read).AsTask().WaitAsync(Limit);

        Assert.Equal(tail, read[..1024]);
        Assert.All(read[1024..3072], b => Assert.Equal(0, b));
        Assert.Equal(tail, read[3072..]);
    }

    [Theory]
    [InlineData(1u, BlockError.ReadOnly)]
    [InlineData(5u, BlockError.MediumError)]
    [InlineData(28u, BlockError.NoSpace)]
    [InlineData(95u, BlockError.NotSupported)]
    [InlineData(22u, BlockError.InvalidArgument)]
    public async Task Server_errors_map_to_block_errors_in_simple_and_structured_replies(uint errno, BlockError expected)
    {
        await using var server = new FakeNbdServer(1 << 20);
        server.Transmission = async s =>
        {
            var r = (await s.ReadRequestAsync())!.Value.Request;
            await s.SimpleReplyAsync(r.Cookie, errno);
            r = (await s.ReadRequestAsync())!.Value.Request;
            await s.ErrorChunkAsync(r.Cookie, errno, "injected by the test", done: true);
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        var simple = await Assert.ThrowsAsync<BlockDeviceException>(() => device.WriteAsync(0, new byte[512]).AsTask().WaitAsync(Limit));
        var structured = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Limit));

        Assert.Equal(expected, simple.Error);
        Assert.Equal(expected, structured.Error);
        Assert.Contains("injected by the test", structured.Message);
        await device.ReadAsync(0, new byte[512]);   // the connection is still good
        Assert.Equal(1, server.Connections);
    }

    [Theory]
    [InlineData("bad magic")]
    [InlineData("unknown cookie")]
    [InlineData("structured before negotiation")]
    public async Task Garbage_drops_the_connection_and_the_requests_are_replayed_on_a_new_one(string garbage)
    {
        await using var server = new FakeNbdServer(1 << 20) { Structured = garbage != "structured before negotiation" };
        Pattern(4096, 9).CopyTo(server.Data, 0);
        server.Transmission = async s =>
        {
            if (server.Connections == 1)
            {
                var r = (await s.ReadRequestAsync())!.Value.Request;
                byte[] bytes = new byte[32];
                switch (garbage)
                {
                    case "bad magic": bytes[0] = 0x12; break;
                    case "unknown cookie": NbdTransmissionCodec.TryWriteSimpleReply(bytes, 0, r.Cookie + 1000, out _); break;
                    default: NbdTransmissionCodec.TryWriteNoneChunk(bytes, NbdReplyFlags.Done, r.Cookie, out _); break;
                }
                await s.WriteAsync(bytes);
                await Task.Delay(Timeout.Infinite).WaitAsync(TimeSpan.FromSeconds(30));
            }
            await s.ServeMemoryAsync();
        };
        var log = new List<string>();
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server), l => { lock (log) log.Add(l); });
        byte[] read = new byte[4096];

        await device.ReadAsync(0, read).AsTask().WaitAsync(Limit);

        Assert.Equal(server.Data[..4096], read);
        Assert.Equal(2, server.Connections);
        Assert.Equal(1, device.Reconnects);
        lock (log) Assert.Contains(log, l => l.Contains("lost"));
    }

    [Theory]
    [InlineData("oversize data")]
    [InlineData("data outside the request")]
    [InlineData("block status for a read")]
    [InlineData("short coverage")]
    [InlineData("unknown chunk type")]
    public async Task A_malformed_reply_fails_its_request_clearly_and_the_connection_is_replaced(string garbage)
    {
        await using var server = new FakeNbdServer(1 << 20);
        server.Transmission = async s =>
        {
            if (server.Connections == 1)
            {
                var r = (await s.ReadRequestAsync())!.Value.Request;
                switch (garbage)
                {
                    case "oversize data": await s.OffsetDataAsync(r.Cookie, r.Offset, new byte[r.Length + 512], done: true); break;
                    case "data outside the request": await s.OffsetDataAsync(r.Cookie, r.Offset + 512, new byte[r.Length], done: true); break;
                    case "block status for a read": await s.BlockStatusAsync(r.Cookie, FakeNbdServer.ContextId, (r.Length, NbdAllocationState.Data)); break;
                    case "short coverage": await s.OffsetDataAsync(r.Cookie, r.Offset, new byte[r.Length / 2], done: true); break;
                    default:
                        byte[] bytes = new byte[20];
                        NbdTransmissionCodec.TryWriteChunkHeader(bytes, NbdReplyFlags.Done, (NbdReplyChunkType)77, r.Cookie, 0, out _);
                        await s.WriteAsync(bytes);
                        break;
                }
                await Task.Delay(Timeout.Infinite).WaitAsync(TimeSpan.FromSeconds(30));
            }
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[4096]).AsTask().WaitAsync(Limit));

        Assert.Equal(BlockError.MediumError, e.Error);
        Assert.IsType<NbdProtocolException>(e.InnerException);
        Assert.Contains("connection was dropped", e.Message);
        await device.ReadAsync(0, new byte[4096]).AsTask().WaitAsync(Limit);   // a new connection serves the next request
        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task A_connection_lost_in_the_middle_of_a_reply_is_replaced_and_the_read_replayed()
    {
        await using var server = new FakeNbdServer(1 << 20);
        Pattern(65536, 3).CopyTo(server.Data, 0);
        server.Transmission = async s =>
        {
            if (server.Connections == 1)
            {
                var r = (await s.ReadRequestAsync())!.Value.Request;
                byte[] bytes = new byte[NbdTransmissionCodec.OffsetDataHeaderLength + 1000];
                NbdTransmissionCodec.TryWriteOffsetDataHeader(bytes, NbdReplyFlags.Done, r.Cookie, r.Offset, r.Length, out _);
                await s.WriteAsync(bytes);    // the header and 1000 of 65536 bytes, then the connection dies
                s.Close();
                return;
            }
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));
        byte[] read = new byte[65536];

        await device.ReadAsync(0, read).AsTask().WaitAsync(Limit);

        Assert.Equal(server.Data[..65536], read);
        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task Writes_in_flight_when_the_connection_drops_are_sent_again_and_land()
    {
        await using var server = new FakeNbdServer(1 << 20);
        server.Transmission = async s =>
        {
            if (server.Connections == 1)
            {
                for (int i = 0; i < 4; i++) await s.ReadRequestAsync();   // swallow four writes, answer none
                s.Close();
                return;
            }
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        await Task.WhenAll(Enumerable.Range(0, 4).Select(i => device.WriteAsync(i * 8, Pattern(4096, i)).AsTask())).WaitAsync(Limit);

        for (int i = 0; i < 4; i++)
            Assert.Equal(Pattern(4096, i), server.Data[(i * 4096)..((i + 1) * 4096)]);
    }

    [Fact]
    public async Task A_request_without_a_reply_times_out_as_not_ready_and_a_silent_server_is_replaced()
    {
        await using var server = new FakeNbdServer(1 << 20);
        server.Transmission = async s =>
        {
            if (server.Connections == 1)
            {
                await s.ReadRequestAsync();
                await Task.Delay(Timeout.Infinite).WaitAsync(TimeSpan.FromSeconds(30));
            }
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server, timeout: TimeSpan.FromMilliseconds(300)));
        var started = DateTime.UtcNow;

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Limit));

        Assert.Equal(BlockError.NotReady, e.Error);
        Assert.Contains("no reply", e.Message);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));
        await device.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Limit);
        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task A_late_reply_to_a_timed_out_read_is_dropped_without_touching_the_buffer()
    {
        await using var server = new FakeNbdServer(1 << 20);
        var release = new TaskCompletionSource();
        server.Transmission = async s =>
        {
            var slow = (await s.ReadRequestAsync())!.Value.Request;
            // Keep the connection visibly alive: answer a second request at once, the first only later.
            var quick = (await s.ReadRequestAsync())!.Value.Request;
            await s.AnswerAsync(quick, []);
            await release.Task;
            await s.OffsetDataAsync(slow.Cookie, slow.Offset, Enumerable.Repeat((byte)0xAB, (int)slow.Length).ToArray(), done: true);
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server, timeout: TimeSpan.FromMilliseconds(400)));
        byte[] slowBuffer = new byte[512];
        var slowRead = device.ReadAsync(0, slowBuffer).AsTask();
        await Task.Delay(50);
        await device.ReadAsync(8, new byte[512]).AsTask().WaitAsync(Limit);

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => slowRead.WaitAsync(Limit));
        release.SetResult();
        await device.ReadAsync(16, new byte[512]).AsTask().WaitAsync(Limit);

        Assert.Equal(BlockError.NotReady, e.Error);
        Assert.All(slowBuffer, b => Assert.Equal(0, b));
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task While_the_server_is_gone_requests_wait_then_fail_not_ready()
    {
        var server = new FakeNbdServer(1 << 20);
        var device = await NbdBlockDevice.ConnectAsync(Options(server, wait: TimeSpan.FromMilliseconds(500)));
        await using var _ = device;
        await server.DisposeAsync();
        var started = DateTime.UtcNow;

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Limit));

        Assert.Equal(BlockError.NotReady, e.Error);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(5));
        Assert.False(device.IsConnected);
    }

    [Fact]
    public async Task Reconnecting_gives_up_after_the_configured_attempts()
    {
        var server = new FakeNbdServer(1 << 20);
        var log = new List<string>();
        var device = await NbdBlockDevice.ConnectAsync(Options(server, wait: TimeSpan.FromSeconds(10), maxAttempts: 3), l => { lock (log) log.Add(l); });
        await using var _ = device;
        await server.DisposeAsync();

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Limit));

        Assert.Equal(BlockError.NotReady, e.Error);
        Assert.Contains("after 3 attempt(s)", e.Message);
        lock (log) Assert.Contains(log, l => l.Contains("gave up"));
    }

    [Fact]
    public async Task A_changed_export_size_on_reconnect_is_reported_and_the_geometry_follows()
    {
        await using var server = new FakeNbdServer(1 << 20);
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));
        var changed = new TaskCompletionSource<NbdExportChangedEventArgs>();
        device.ExportChanged += (_, e) => changed.TrySetResult(e);

        server.Data = new byte[2 << 20];
        server.DropConnections();
        await device.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Limit);
        var args = await changed.Task.WaitAsync(Limit);

        Assert.True(args.SizeChanged);
        Assert.Equal(1UL << 20, args.Previous.SizeBytes);
        Assert.Equal(2UL << 20, args.Current.SizeBytes);
        Assert.Equal((2 << 20) / 512, device.Geometry.BlockCount);
    }

    [Fact]
    public async Task Transfers_are_split_by_the_servers_maximum_payload_and_reassembled()
    {
        await using var server = new FakeNbdServer(1 << 20) { MaxPayload = 65536 };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));
        byte[] data = Pattern(262144 + 4096, 11);

        await device.WriteAsync(0, data, BlockWriteFlags.ForceUnitAccess);
        byte[] read = new byte[data.Length];
        await device.ReadAsync(0, read);

        Assert.Equal(data, read);
        var writes = server.Requests.Where(r => r.Command == NbdCommand.Write).ToList();
        Assert.Equal(5, writes.Count);
        Assert.All(writes, w => Assert.True(w.Length <= 65536 && w.Flags == NbdCommandFlags.Fua));
        Assert.Equal(5, server.Requests.Count(r => r.Command == NbdCommand.Read));
    }

    [Fact]
    public async Task Zeroing_unmapping_and_flushing_map_to_the_nbd_commands_and_flags()
    {
        await using var server = new FakeNbdServer(1 << 20);
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        await device.WriteZeroesAsync(8, 4, WriteZeroesFlags.None);
        await device.WriteZeroesAsync(8, 4, WriteZeroesFlags.MayUnmap | WriteZeroesFlags.FastOnly | WriteZeroesFlags.ForceUnitAccess);
        await device.UnmapAsync(16, 2);
        await device.FlushAsync();

        var seen = server.Requests.Select(r => (r.Command, r.Flags, r.Offset, r.Length)).ToList();
        Assert.Equal(
        [
            (NbdCommand.WriteZeroes, NbdCommandFlags.NoHole, 4096UL, 2048U),
            (NbdCommand.WriteZeroes, NbdCommandFlags.FastZero | NbdCommandFlags.Fua, 4096UL, 2048U),
            (NbdCommand.WriteZeroes, NbdCommandFlags.None, 8192UL, 1024U),
            (NbdCommand.Flush, NbdCommandFlags.None, 0UL, 0U),
        ], seen);
    }

    [Fact]
    public async Task Fast_zeroing_is_refused_without_asking_when_the_server_cannot_promise_it()
    {
        await using var server = new FakeNbdServer(1 << 20) { Flags = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendWriteZeroes | NbdTransmissionFlags.SendTrim };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => device.WriteZeroesAsync(0, 1, WriteZeroesFlags.FastOnly).AsTask());

        Assert.Equal(BlockError.NotSupported, e.Error);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Block_status_descriptors_become_extents_partly_covered_blocks_stay_conservative_and_the_rest_is_asked_again()
    {
        await using var server = new FakeNbdServer(1 << 20);
        server.Transmission = async s =>
        {
            var r = (await s.ReadRequestAsync())!.Value.Request;
            await s.BlockStatusAsync(r.Cookie, FakeNbdServer.ContextId,
                (1024, NbdAllocationState.Data),
                (1024 + 256, NbdAllocationState.Hole | NbdAllocationState.Zero),   // ends inside block 4
                (768, NbdAllocationState.Hole | NbdAllocationState.Zero),
                (2048, NbdAllocationState.Zero));
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));
        var extents = new BlockExtent[8];

        int n = await device.GetExtentsAsync(10, 20, extents).AsTask().WaitAsync(Limit);

        Assert.Equal(
        [
            new BlockExtent(10, 2, BlockExtentFlags.Data),
            new BlockExtent(12, 4, BlockExtentFlags.Hole | BlockExtentFlags.Zero),
            new BlockExtent(16, 4, BlockExtentFlags.Zero),
            new BlockExtent(20, 10, BlockExtentFlags.Data),   // the rest, from a second BLOCK_STATUS
        ], extents[..n]);
        var requests = server.Requests.Where(r => r.Command == NbdCommand.BlockStatus).Select(r => (r.Offset, r.Length));
        Assert.Equal([(10UL * 512, 20U * 512), (20UL * 512, 10U * 512)], requests);
    }

    [Fact]
    public async Task Block_status_for_a_context_that_was_not_selected_is_garbage()
    {
        await using var server = new FakeNbdServer(1 << 20);
        server.Transmission = async s =>
        {
            if (server.Connections == 1)
            {
                var r = (await s.ReadRequestAsync())!.Value.Request;
                await s.BlockStatusAsync(r.Cookie, 99, (r.Length, NbdAllocationState.Data));
                await Task.Delay(Timeout.Infinite).WaitAsync(TimeSpan.FromSeconds(30));
            }
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        var e = await Assert.ThrowsAsync<BlockDeviceException>(() => device.GetExtentsAsync(0, 8, new BlockExtent[4]).AsTask().WaitAsync(Limit));

        Assert.Contains("metadata context 99", e.Message);
    }

    [Fact]
    public async Task Many_requests_in_flight_are_pipelined_on_one_connection()
    {
        await using var server = new FakeNbdServer(4 << 20);
        int maxOutstanding = 0;
        server.Transmission = async s =>
        {
            // Read 32 requests before answering any: only a pipelining client gets past this.
            var batch = new List<(NbdRequest, byte[])>();
            for (int i = 0; i < 32; i++) batch.Add((await s.ReadRequestAsync())!.Value);
            maxOutstanding = batch.Count;
            foreach (var (r, p) in batch.AsEnumerable().Reverse()) await s.AnswerAsync(r, p);
            await s.ServeMemoryAsync();
        };
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => device.WriteAsync(i * 16, Pattern(8192, i)).AsTask())).WaitAsync(Limit);

        Assert.Equal(32, maxOutstanding);
        for (int i = 0; i < 32; i++)
        {
            byte[] read = new byte[8192];
            await device.ReadAsync(i * 16, read);
            Assert.Equal(Pattern(8192, i), read);
        }
    }

    [Fact]
    public async Task Cancelling_a_request_waiting_for_a_connection_completes_it_as_cancelled()
    {
        var server = new FakeNbdServer(1 << 20);
        var device = await NbdBlockDevice.ConnectAsync(Options(server, wait: TimeSpan.FromSeconds(30)));
        await using var _ = device;
        await server.DisposeAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => device.ReadAsync(0, new byte[512], cts.Token).AsTask().WaitAsync(Limit));
    }

    [Fact]
    public async Task Range_checks_fail_before_anything_is_sent()
    {
        await using var server = new FakeNbdServer(1 << 20);
        await using var device = await NbdBlockDevice.ConnectAsync(Options(server));

        Assert.Equal(BlockError.OutOfRange, (await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(2048, new byte[512]).AsTask())).Error);
        Assert.Equal(BlockError.InvalidArgument, (await Assert.ThrowsAsync<BlockDeviceException>(() => device.WriteAsync(0, new byte[100]).AsTask())).Error);
        Assert.Equal(BlockError.InvalidArgument, (await Assert.ThrowsAsync<BlockDeviceException>(() => device.UnmapAsync(0, -1).AsTask())).Error);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Closing_the_device_sends_disc_and_later_requests_fail_not_ready()
    {
        await using var server = new FakeNbdServer(1 << 20);
        var device = await NbdBlockDevice.ConnectAsync(Options(server));
        await device.WriteAsync(0, new byte[512]);

        await device.DisposeAsync();

        // The server reads the DISC on its own time; give it a moment.
        for (int i = 0; i < 250 && !server.Requests.Any(r => r.Command == NbdCommand.Disconnect); i++) await Task.Delay(20);
        Assert.Contains(server.Requests, r => r.Command == NbdCommand.Disconnect);
        Assert.Equal(BlockError.NotReady, (await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[512]).AsTask())).Error);
    }
}
