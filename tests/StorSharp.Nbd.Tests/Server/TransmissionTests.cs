using System.Buffers.Binary;
using StorSharp.Nbd.Protocol;
using StorSharp.Nbd.Tests.Support;
using StorSharp.Port;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Server;

/// <summary>Requests and replies in the transmission phase, driven by the raw client.</summary>
public class TransmissionTests
{
    private const uint EPERM = 1, EIO = 5, EINVAL = 22, ENOSPC = 28, EOVERFLOW = 75, ENOTSUP = 95;

    private static async Task<(TestNbdServer T, RawNbdClient C)> OpenAsync(bool structured = true, MemoryDisk[]? disks = null,
        Action<NbdServerOptions>? configure = null, Func<int, NbdExport, NbdExport>? exportFor = null, PortOptions? portOptions = null)
    {
        var t = await TestNbdServer.StartAsync(disks, configure: configure, exportFor: exportFor, portOptions: portOptions);
        var c = await RawNbdClient.ConnectAsync(t.TcpPort);
        await c.GoAsync(structured: structured);
        return (t, c);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WriteThenReadRoundTrips(bool structured)
    {
        var (t, c) = await OpenAsync(structured);
        await using var _ = t;
        await using var __ = c;
        var data = new byte[64 * 1024];
        new Random(1).NextBytes(data);
        await c.SendRequestAsync(NbdCommand.Write, 1, 8192, (uint)data.Length, NbdCommandFlags.Fua, data);
        Assert.Equal((0u, 1ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Read, 2, 8192, (uint)data.Length);
        var (error, cookie, back) = await c.ReadReadReplyAsync((uint)data.Length);
        Assert.Equal((0u, 2ul), (error, cookie));
        Assert.Equal(data, back);
        Assert.Equal(data, t.Disks[0].Bytes.AsSpan(8192, data.Length).ToArray());
        Assert.Equal(1, t.Disks[0].FuaWrites);
    }

    [Fact]
    public async Task StructuredReadIsOneOffsetDataChunkWithDone()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        await c.SendRequestAsync(NbdCommand.Read, 9, 4096, 1024, NbdCommandFlags.DontFragment);
        var (header, payload) = await c.ReadChunkAsync();
        Assert.Equal(NbdReplyChunkType.OffsetData, header.Type);
        Assert.Equal(NbdReplyFlags.Done, header.Flags);
        Assert.Equal(9ul, header.Cookie);
        Assert.Equal(8u + 1024, header.Length);
        Assert.Equal(4096ul, BinaryPrimitives.ReadUInt64BigEndian(payload));
    }

    [Fact]
    public async Task UnalignedReadsAndWritesUseReadModifyWrite()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        new Random(4).NextBytes(t.Disks[0].Bytes.AsSpan(0, 8192));
        var expected = t.Disks[0].Bytes.AsSpan(0, 8192).ToArray();
        var patch = new byte[1000];
        Array.Fill(patch, (byte)0x5A);
        patch.CopyTo(expected, 300);
        await c.SendRequestAsync(NbdCommand.Write, 1, 300, 1000, payload: patch);
        Assert.Equal((0u, 1ul), await c.ReadSimpleReplyAsync());
        Assert.Equal(expected, t.Disks[0].Bytes.AsSpan(0, 8192).ToArray());
        await c.SendRequestAsync(NbdCommand.Read, 2, 299, 1002);
        var (error, _, back) = await c.ReadReadReplyAsync(1002);
        Assert.Equal(0u, error);
        Assert.Equal(expected.AsSpan(299, 1002).ToArray(), back);
    }

    [Fact]
    public async Task OutOfRangeRequestsGetTheSpecifiedErrors()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        ulong size = 16ul * 1024 * 1024;
        await c.SendRequestAsync(NbdCommand.Write, 1, size - 512, 1024, payload: new byte[1024]);
        Assert.Equal((ENOSPC, 1ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.WriteZeroes, 2, size, 512);
        Assert.Equal((ENOSPC, 2ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Read, 3, size - 512, 1024);
        Assert.Equal(EINVAL, (await c.ReadReadReplyAsync(1024)).Error);
        await c.SendRequestAsync(NbdCommand.Read, 4, ulong.MaxValue - 100, 512); // would overflow offset + length
        Assert.Equal(EINVAL, (await c.ReadReadReplyAsync(512)).Error);
        await c.SendRequestAsync(NbdCommand.Trim, 5, size, 512);
        Assert.Equal((EINVAL, 5ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Cache, 6, size, 512);
        Assert.Equal((EINVAL, 6ul), await c.ReadSimpleReplyAsync());
        // The connection is still in sync.
        await c.SendRequestAsync(NbdCommand.Read, 7, 0, 512);
        Assert.Equal(0u, (await c.ReadReadReplyAsync(512)).Error);
    }

    [Fact]
    public async Task BadArgumentsGetEinval()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        await c.SendRequestAsync((NbdCommand)42, 1, 0, 512);
        Assert.Equal((EINVAL, 1ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Read, 2, 0, 0);
        Assert.Equal(EINVAL, (await c.ReadReadReplyAsync(0)).Error);
        await c.SendRequestAsync(NbdCommand.Read, 3, 0, 512, NbdCommandFlags.Fua);
        Assert.Equal(EINVAL, (await c.ReadReadReplyAsync(512)).Error);
        await c.SendRequestAsync(NbdCommand.Flush, 4, 0, 0, NbdCommandFlags.NoHole);
        Assert.Equal((EINVAL, 4ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Write, 5, 0, 512, NbdCommandFlags.ReqOne, new byte[512]);
        Assert.Equal((EINVAL, 5ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Read, 6, 0, 512);
        Assert.Equal(0u, (await c.ReadReadReplyAsync(512)).Error);
    }

    [Fact]
    public async Task OversizedReadIsEinvalOrEoverflowWithDf()
    {
        var (t, c) = await OpenAsync(configure: o => o.MaxPayload = 64 * 1024);
        await using var _ = t;
        await using var __ = c;
        await c.SendRequestAsync(NbdCommand.Read, 1, 0, 128 * 1024);
        Assert.Equal(EINVAL, (await c.ReadReadReplyAsync(0)).Error);
        await c.SendRequestAsync(NbdCommand.Read, 2, 0, 128 * 1024, NbdCommandFlags.DontFragment);
        Assert.Equal(EOVERFLOW, (await c.ReadReadReplyAsync(0)).Error);
    }

    [Fact]
    public async Task HugeWriteClosesTheConnectionWithoutBufferingIt()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using (c)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await c.SendRequestAsync(NbdCommand.Write, 1, 0, 0x8000_0000); // 2 GiB, no data follows
            Assert.True(await c.IsClosedByServerAsync());
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            Assert.True(allocated < 16 * 1024 * 1024, $"the server allocated {allocated} bytes");
        }
        Assert.Contains(t.Log, l => l.Contains("exceeds the maximum payload"));
        await NegotiationTests.AssertStillServesAsync(t);
    }

    [Fact]
    public async Task BadRequestMagicClosesTheConnection()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using (c)
        {
            await c.WriteAsync(new byte[28]);
            Assert.True(await c.IsClosedByServerAsync());
        }
        await NegotiationTests.AssertStillServesAsync(t);
    }

    [Fact]
    public async Task ReadOnlyExportRefusesWritesWithEpermAndStaysInSync()
    {
        var (t, c) = await OpenAsync(exportFor: (_, e) => e with { ReadOnly = true });
        await using var _ = t;
        await using var __ = c;
        await c.SendRequestAsync(NbdCommand.Write, 1, 0, 4096, payload: new byte[4096].Select(_ => (byte)7).ToArray());
        Assert.Equal((EPERM, 1ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Trim, 2, 0, 4096);
        Assert.Equal((EPERM, 2ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.WriteZeroes, 3, 0, 4096);
        Assert.Equal((EPERM, 3ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Read, 4, 0, 4096);
        Assert.Equal(0u, (await c.ReadReadReplyAsync(4096)).Error);
        Assert.Equal(0, t.Disks[0].Bytes[0]);
    }

    [Fact]
    public async Task DeviceErrorsMapToErrno()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        t.Miniport.Fail = srb => BinaryPrimitives.ReadInt64BigEndian(srb.Cdb[2..]) switch
        {
            100 => ((byte)0x3, (byte)0x11, (byte)0x00),  // MEDIUM ERROR, unrecovered read error
            200 => ((byte)0x7, (byte)0x27, (byte)0x00),  // DATA PROTECT, write protected
            300 => ((byte)0x7, (byte)0x27, (byte)0x07),  // space allocation failed write protect
            _ => null,
        };
        await c.SendRequestAsync(NbdCommand.Read, 1, 100 * 512, 512);
        Assert.Equal(EIO, (await c.ReadReadReplyAsync(512)).Error);
        await c.SendRequestAsync(NbdCommand.Write, 2, 200 * 512, 512, payload: new byte[512]);
        Assert.Equal((EPERM, 2ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Write, 3, 300 * 512, 512, payload: new byte[512]);
        Assert.Equal((ENOSPC, 3ul), await c.ReadSimpleReplyAsync());
    }

    [Fact]
    public async Task UnitAttentionIsRetriedLikeDiskSys()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        int failures = 1;
        t.Miniport.Fail = srb => srb.OperationCode == 0x88 && Interlocked.Decrement(ref failures) >= 0 ? ((byte)0x6, (byte)0x29, (byte)0x00) : null;
        await c.SendRequestAsync(NbdCommand.Read, 1, 0, 512);
        Assert.Equal(0u, (await c.ReadReadReplyAsync(512)).Error);
    }

    [Fact]
    public async Task FastZeroFailsWithEnotsupWhenTheLuHasNoWriteSame()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        t.Disks[0].SupportsWriteSame = false;
        new Random(3).NextBytes(t.Disks[0].Bytes.AsSpan(0, 8192));
        await c.SendRequestAsync(NbdCommand.WriteZeroes, 1, 0, 8192, NbdCommandFlags.NoHole);
        Assert.Equal((0u, 1ul), await c.ReadSimpleReplyAsync()); // emulated with writes
        Assert.True(t.Disks[0].Bytes.AsSpan(0, 8192).IndexOfAnyExcept((byte)0) < 0);
        await c.SendRequestAsync(NbdCommand.WriteZeroes, 2, 0, 8192, NbdCommandFlags.FastZero);
        Assert.Equal((ENOTSUP, 2ul), await c.ReadSimpleReplyAsync());
    }

    [Fact]
    public async Task TrimWriteZeroesFlushAndCacheReachTheLu()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        var disk = t.Disks[0];
        new Random(8).NextBytes(disk.Bytes.AsSpan(0, 64 * 1024));
        Array.Fill(disk.Mapped, true, 0, 128);
        await c.SendRequestAsync(NbdCommand.Trim, 1, 0, 16 * 1024);
        Assert.Equal((0u, 1ul), await c.ReadSimpleReplyAsync());
        Assert.False(disk.Mapped[0]);
        await c.SendRequestAsync(NbdCommand.WriteZeroes, 2, 16 * 1024 + 100, 16 * 1024, NbdCommandFlags.Fua);
        Assert.Equal((0u, 2ul), await c.ReadSimpleReplyAsync());
        Assert.True(disk.Bytes.AsSpan(16 * 1024 + 100, 16 * 1024).IndexOfAnyExcept((byte)0) < 0);
        Assert.NotEqual(0, disk.Bytes[16 * 1024 + 99]);
        Assert.NotEqual(0, disk.Bytes[32 * 1024 + 100]);
        await c.SendRequestAsync(NbdCommand.Flush, 3, 0, 0);
        Assert.Equal((0u, 3ul), await c.ReadSimpleReplyAsync());
        await c.SendRequestAsync(NbdCommand.Cache, 4, 0, 1024 * 1024);
        Assert.Equal((0u, 4ul), await c.ReadSimpleReplyAsync());
        Assert.True(disk.Unmaps >= 1);
        Assert.True(disk.WriteSames >= 1);
        Assert.True(disk.Flushes >= 2); // the FUA zeroing's range flush and the FLUSH
        Assert.Equal(1, disk.PreFetches);
    }

    [Fact]
    public async Task BlockStatusDescribesAllocation()
    {
        var disk = new MemoryDisk(1024 * 1024);
        Array.Fill(disk.Mapped, true, 8, 8); // 4 KiB..8 KiB allocated
        var (t, c) = await OpenAsync(disks: [disk]);
        await using var _ = t;
        await using var __ = c;
        await c.SendRequestAsync(NbdCommand.BlockStatus, 1, 0, 16 * 1024);
        var (header, payload) = await c.ReadChunkAsync();
        Assert.Equal(NbdReplyChunkType.BlockStatus, header.Type);
        Assert.Equal(NbdReplyFlags.Done, header.Flags);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(payload));
        var descriptors = Enumerable.Range(0, (payload.Length - 4) / 8)
            .Select(i => (BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4 + 8 * i)), BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(8 + 8 * i)))).ToList();
        Assert.Equal([(4096u, 3u), (4096u, 0u), (8192u, 3u)], descriptors);

        await c.SendRequestAsync(NbdCommand.BlockStatus, 2, 1000, 16 * 1024, NbdCommandFlags.ReqOne);
        (header, payload) = await c.ReadChunkAsync();
        Assert.Equal(12, payload.Length);
        Assert.Equal(3096u, BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4)));
    }

    [Fact]
    public async Task RepliesComeBackOutOfOrder()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        t.Miniport.Hold = srb => srb.OperationCode == 0x88 && BinaryPrimitives.ReadInt64BigEndian(srb.Cdb[2..]) == 0;
        await c.SendRequestAsync(NbdCommand.Read, 1, 0, 512);     // held by the device
        await c.SendRequestAsync(NbdCommand.Read, 2, 4096, 512);  // answered at once
        var first = await c.ReadReadReplyAsync(512);
        Assert.Equal(2ul, first.Cookie);
        t.Miniport.ReleaseHeld();
        var second = await c.ReadReadReplyAsync(512);
        Assert.Equal(1ul, second.Cookie);
    }

    [Fact]
    public async Task InFlightRequestsAreBoundedPerConnection()
    {
        var (t, c) = await OpenAsync(configure: o => o.MaxInFlightPerConnection = 4);
        await using var _ = t;
        await using var __ = c;
        t.Miniport.Hold = srb => srb.OperationCode == 0x88;
        for (ulong i = 0; i < 10; i++) await c.SendRequestAsync(NbdCommand.Read, i, i * 512, 512);
        await WaitUntilAsync(() => t.Miniport.HeldCount == 4);
        await Task.Delay(200);
        Assert.Equal(4, t.Miniport.HeldCount); // the server stopped reading at 4
        t.Miniport.Hold = null;
        t.Miniport.ReleaseHeld();
        var cookies = new HashSet<ulong>();
        for (int i = 0; i < 10; i++) cookies.Add((await c.ReadReadReplyAsync(512)).Cookie);
        Assert.Equal(10, cookies.Count);
    }

    [Fact]
    public async Task ClientVanishingMidRequestReleasesEverythingAndOthersKeepWorking()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        try
        {
            t.Miniport.Hold = srb => srb.OperationCode is 0x88 or 0x8A;
            for (ulong i = 0; i < 8; i++) await c.SendRequestAsync(NbdCommand.Read, i, i * 4096, 4096);
            await c.SendRequestAsync(NbdCommand.Write, 100, 0, 4096, payload: new byte[4096]);
            await c.SendRequestAsync(NbdCommand.Write, 101, 8192, 1024 * 1024, payload: new byte[1000]); // payload cut short
            await WaitUntilAsync(() => t.Miniport.HeldCount == 9);
            c.Abort();
            await c.DisposeAsync();
            // Another client is served while the dead one's requests are still in the device.
            t.Miniport.Hold = null;
            await NegotiationTests.AssertStillServesAsync(t);
            await WaitUntilAsync(() => t.Server.ConnectionCount == 1); // the second client has gone
            await Task.Delay(100);
            Assert.Equal(1, t.Server.ConnectionCount); // the dead connection waits for its SRBs
            t.Miniport.ReleaseHeld();
            await WaitUntilAsync(() => t.Server.ConnectionCount == 0);
        }
        catch (Exception ex)
        {
            throw new Xunit.Sdk.XunitException($"{ex}\nserver log:\n{string.Join('\n', t.Log)}");
        }
        finally
        {
            t.Miniport.Hold = null;
            t.Miniport.ReleaseHeld();
        }
    }

    [Fact]
    public async Task DisconnectWaitsForInFlightWritesThenFlushes()
    {
        var (t, c) = await OpenAsync();
        await using var _ = t;
        await using var __ = c;
        t.Miniport.Hold = srb => srb.OperationCode == 0x8A;
        var data = new byte[4096];
        Array.Fill(data, (byte)0xEE);
        await c.SendRequestAsync(NbdCommand.Write, 1, 0, 4096, payload: data);
        await WaitUntilAsync(() => t.Miniport.HeldCount == 1);
        int flushesBefore = t.Disks[0].Flushes;
        await c.SendRequestAsync(NbdCommand.Disconnect, 2, 0, 0);
        await Task.Delay(100);
        Assert.Equal(1, t.Server.ConnectionCount);
        t.Miniport.Hold = null;
        t.Miniport.ReleaseHeld();
        Assert.Equal((0u, 1ul), await c.ReadSimpleReplyAsync()); // the write's reply still arrives
        Assert.True(await c.IsClosedByServerAsync());
        Assert.Equal(0xEE, t.Disks[0].Bytes[0]);
        Assert.True(t.Disks[0].Flushes > flushesBefore);
    }

    [Fact]
    public async Task TimedOutRequestIsResetByThePortAndAnsweredWithEio()
    {
        var portOptions = new PortOptions
        {
            HeartbeatInterval = TimeSpan.FromMilliseconds(20),
            Tunables = new PortTunables { DefaultTimeoutSeconds = 1, ClassRetryCount = 1, ClassRetryInterval = TimeSpan.Zero, ResetTimeout = TimeSpan.FromSeconds(1) },
        };
        var (t, c) = await OpenAsync(portOptions: portOptions);
        await using var _ = t;
        await using var __ = c;
        t.Miniport.Hold = srb => srb.OperationCode == 0x88; // never answered: the port times out, resets, retries once
        await c.SendRequestAsync(NbdCommand.Read, 1, 0, 512);
        var reply = await c.ReadReadReplyAsync(512);
        Assert.Equal(EIO, reply.Error);
        t.Miniport.Hold = null;
        await c.SendRequestAsync(NbdCommand.Read, 2, 0, 512);
        Assert.Equal(0u, (await c.ReadReadReplyAsync(512)).Error);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, int timeoutMs = 10_000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline) throw new TimeoutException("condition not met in time");
            await Task.Delay(10);
        }
    }
}
