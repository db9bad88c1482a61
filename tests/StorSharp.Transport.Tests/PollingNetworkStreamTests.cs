using System.Net;
using System.Net.Sockets;
using StorSharp.Transport;

namespace StorSharp.Transport.Tests;

public sealed class PollingNetworkStreamTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(5);

    /// <summary>A connected loopback pair: the server side wrapped in a polling stream, the client side raw.</summary>
    private sealed class Pair : IDisposable
    {
        public Pair(ReceivePolling polling)
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            Client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Client.Connect(listener.LocalEndPoint!);
            Server = new PollingNetworkStream(listener.Accept(), polling, ownsSocket: true);
        }

        public Socket Client { get; }
        public PollingNetworkStream Server { get; }

        public void Send(int bytes) => Client.Send(new byte[bytes]);

        public void Dispose()
        {
            Server.Dispose();
            Client.Dispose();
        }
    }

    private static void SpinUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the condition never came true");
            Thread.Yield();
        }
    }

    /// <summary>Reports enough single-request receives for the client to count as in lock step; the next read is armed.</summary>
    private static void MakeLockStep(PollingNetworkStream stream)
    {
        for (int i = 0; i < PollingNetworkStream.LockStepEvidence; i++)
        {
            Assert.False(stream.IsLockStep);
            stream.AtRequestBoundary(1);
        }
        Assert.True(stream.IsLockStep);
        Assert.True(stream.IsArmed);
    }

    /// <summary>Makes the connection hot and lock-step: one request per receive, arriving at once.</summary>
    private static async Task WarmAsync(Pair pair, byte[] buffer)
    {
        MakeLockStep(pair.Server);
        pair.Send(28);
        Assert.Equal(28, await pair.Server.ReadAsync(buffer));
        pair.Server.AtRequestBoundary(1);
    }

    [Fact]
    public void Receive_polling_rejects_windows_outside_its_range()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReceivePolling(TimeSpan.FromMicroseconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReceivePolling(ReceivePolling.MaximumWindow + TimeSpan.FromTicks(1)));
        Assert.True(new ReceivePolling(ReceivePolling.MaximumWindow).Enabled);
        Assert.False(ReceivePolling.Off.Enabled);
        Assert.Equal(TimeSpan.FromMicroseconds(50), ReceivePolling.DefaultWindow);
        Assert.Equal(Environment.ProcessorCount - 1, new ReceivePolling(ReceivePolling.DefaultWindow).MaxPollers);
    }

    [Fact]
    public void Poller_slots_hold_at_most_their_capacity()
    {
        var slots = new PollerSlots(2);
        Assert.True(slots.TryEnter());
        Assert.True(slots.TryEnter());
        Assert.False(slots.TryEnter());
        slots.Exit();
        Assert.True(slots.TryEnter());
        Assert.Equal(2, slots.Taken);
    }

    [Fact]
    public void Lock_step_needs_several_single_request_receives_and_every_probe_interval_th_read_sleeps()
    {
        using var pair = new Pair(new ReceivePolling(Long, new PollerSlots(1)));
        MakeLockStep(pair.Server); // the fourth boundary is the first armed one
        var armed = new List<bool>();
        for (int i = 0; i < 2 * PollingNetworkStream.ProbeInterval; i++)
        {
            pair.Server.AtRequestBoundary(1);
            armed.Add(pair.Server.IsArmed);
        }
        // Two probes in 32 boundaries read without polling; both found one request, so the
        // evidence asked for stays at its minimum.
        Assert.Equal(2, armed.Count(a => !a));
        Assert.Equal(PollingNetworkStream.LockStepEvidence, pair.Server.LockStepEvidenceNeeded);
    }

    [Fact]
    public void A_probe_that_finds_several_requests_doubles_the_evidence_asked_for_and_a_good_one_halves_it()
    {
        using var pair = new Pair(new ReceivePolling(Long, new PollerSlots(1)));
        var s = pair.Server;
        MakeLockStep(s);
        while (s.IsArmed) s.AtRequestBoundary(1); // up to the probe: a read that sleeps on purpose
        s.AtRequestBoundary(3);                   // the probe found three requests: a deep queue
        Assert.False(s.IsLockStep);
        Assert.Equal(2 * PollingNetworkStream.LockStepEvidence, s.LockStepEvidenceNeeded);
        for (int i = 1; i < 2 * PollingNetworkStream.LockStepEvidence; i++)
        {
            s.AtRequestBoundary(1);
            Assert.False(s.IsArmed);
        }
        s.AtRequestBoundary(1);
        Assert.True(s.IsArmed);

        // Keep failing probes: the evidence doubles up to its cap.
        for (int round = 0; round < 12; round++)
        {
            while (!s.IsLockStep) s.AtRequestBoundary(1);
            while (s.IsArmed) s.AtRequestBoundary(1);
            s.AtRequestBoundary(2);
        }
        Assert.Equal(PollingNetworkStream.MaximumLockStepEvidence, s.LockStepEvidenceNeeded);

        // A probe that finds one request halves it.
        while (!s.IsLockStep) s.AtRequestBoundary(1);
        while (s.IsArmed) s.AtRequestBoundary(1);
        s.AtRequestBoundary(1);
        Assert.Equal(PollingNetworkStream.MaximumLockStepEvidence / 2, s.LockStepEvidenceNeeded);
        Assert.True(s.IsArmed);
    }

    [Fact]
    public void Several_requests_per_receive_mean_a_deep_queue_and_no_polling()
    {
        using var pair = new Pair(new ReceivePolling(Long, new PollerSlots(1)));
        MakeLockStep(pair.Server);
        pair.Server.AtRequestBoundary(5);
        Assert.False(pair.Server.IsLockStep);
        Assert.False(pair.Server.IsArmed);
        pair.Server.AtRequestBoundary(0); // a receive that ended inside a request says nothing
        Assert.False(pair.Server.IsLockStep);
    }

    [Fact]
    public void Polling_off_never_arms_a_read()
    {
        using var pair = new Pair(ReceivePolling.Off);
        for (int i = 0; i < PollingNetworkStream.LockStepEvidence; i++) pair.Server.AtRequestBoundary(1);
        Assert.True(pair.Server.IsLockStep);
        Assert.False(pair.Server.IsArmed);
    }

    [Fact]
    public async Task A_cold_connection_waits_first_and_turns_hot_when_data_came_within_the_window()
    {
        var polling = new ReceivePolling(Long, new PollerSlots(1));
        using var pair = new Pair(polling);
        var buffer = new byte[64];
        Assert.False(pair.Server.IsHot);
        await WarmAsync(pair, buffer);
        Assert.True(pair.Server.IsHot);
        Assert.Equal(0, polling.Polls); // the first armed read waited; it did not poll
    }

    [Fact]
    public async Task A_hot_lock_step_read_polls_and_finds_data_sent_while_it_polls()
    {
        var slots = new PollerSlots(1);
        var polling = new ReceivePolling(Long, slots);
        using var pair = new Pair(polling);
        var buffer = new byte[64];
        await WarmAsync(pair, buffer);

        // The client sends only once the poll holds its slot, so the data arrives mid-poll.
        var sender = Task.Run(() => { SpinUntil(() => slots.Taken == 1); pair.Send(28); });
        int n = await pair.Server.ReadAsync(buffer);
        await sender;

        Assert.Equal(28, n);
        Assert.Equal(1, polling.Polls);
        Assert.Equal(1, polling.Hits);
        Assert.True(pair.Server.IsHot);
        Assert.Equal(0, slots.Taken);
    }

    [Fact]
    public async Task A_poll_that_runs_out_turns_the_connection_cold_and_the_read_still_completes()
    {
        var polling = new ReceivePolling(TimeSpan.FromMilliseconds(1), new PollerSlots(1));
        using var pair = new Pair(polling);
        var buffer = new byte[64];
        await WarmAsync(pair, buffer);
        Assert.True(pair.Server.IsHot);

        var read = pair.Server.ReadAsync(buffer).AsTask();
        SpinUntil(() => polling.Polls == 1); // the client sends only after the poll gave up
        pair.Send(28);
        Assert.Equal(28, await read.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, polling.Hits);
        Assert.False(pair.Server.IsHot);

        // Cold now: the next armed read waits without polling, and a long wait keeps it cold.
        pair.Server.AtRequestBoundary(1);
        Assert.True(pair.Server.IsArmed);
        var next = pair.Server.ReadAsync(buffer).AsTask();
        await Task.Delay(20);
        pair.Send(28);
        Assert.Equal(28, await next.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, polling.Polls);
        Assert.False(pair.Server.IsHot);
    }

    [Fact]
    public async Task No_free_slot_means_the_read_waits_without_polling()
    {
        var slots = new PollerSlots(1);
        var polling = new ReceivePolling(Long, slots);
        using var pair = new Pair(polling);
        var buffer = new byte[64];
        await WarmAsync(pair, buffer);

        Assert.True(slots.TryEnter()); // another connection is polling
        var read = pair.Server.ReadAsync(buffer).AsTask();
        Assert.False(read.IsCompleted);
        pair.Send(28);
        Assert.Equal(28, await read.WaitAsync(TimeSpan.FromSeconds(10)));
        slots.Exit();
        Assert.Equal(0, polling.Polls);
    }

    [Fact]
    public async Task Reads_that_are_not_armed_never_poll()
    {
        var slots = new PollerSlots(1);
        var polling = new ReceivePolling(Long, slots);
        using var pair = new Pair(polling);
        var buffer = new byte[64];
        await WarmAsync(pair, buffer);
        Assert.Equal(28, await ReadWithDataAsync(pair, buffer)); // the armed read, data already there: no poll needed
        // A payload read between boundaries: not armed.
        var read = pair.Server.ReadAsync(buffer).AsTask();
        Assert.False(read.IsCompleted);
        pair.Send(10);
        Assert.Equal(10, await read.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, polling.Polls);

        // The armed read that found its data waiting did not sleep: it teaches nothing about the
        // client's depth, so three requests in that receive do not end lock step.
        Assert.Equal(28, await ReadWithDataAsync(pair, buffer));
        pair.Server.AtRequestBoundary(1);
        Assert.True(pair.Server.IsArmed);
        Assert.Equal(28, await ReadWithDataAsync(pair, buffer));
        pair.Server.AtRequestBoundary(3);
        Assert.True(pair.Server.IsLockStep);
    }

    private static async Task<int> ReadWithDataAsync(Pair pair, byte[] buffer)
    {
        pair.Send(28);
        SpinUntil(() => pair.Server.Socket.Available == 28);
        return await pair.Server.ReadAsync(buffer);
    }

    [Fact]
    public async Task The_peer_closing_ends_a_poll_at_once_and_the_read_sees_the_end_of_stream()
    {
        var slots = new PollerSlots(1);
        var polling = new ReceivePolling(Long, slots);
        using var pair = new Pair(polling);
        var buffer = new byte[64];
        await WarmAsync(pair, buffer);

        var closer = Task.Run(() => { SpinUntil(() => slots.Taken == 1); pair.Client.Shutdown(SocketShutdown.Send); });
        var started = DateTime.UtcNow;
        int n = await pair.Server.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await closer;
        Assert.Equal(0, n);
        Assert.True(DateTime.UtcNow - started < Long, "the poll ran its whole window instead of seeing the end of stream");
    }

    [Fact]
    public async Task Disposing_the_stream_ends_a_poll_with_an_error_instead_of_spinning_on()
    {
        var slots = new PollerSlots(1);
        var polling = new ReceivePolling(Long, slots);
        using var pair = new Pair(polling);
        var buffer = new byte[64];
        await WarmAsync(pair, buffer);

        var disposer = Task.Run(() => { SpinUntil(() => slots.Taken == 1); pair.Server.Dispose(); });
        var started = DateTime.UtcNow;
        await Assert.ThrowsAnyAsync<Exception>(() => pair.Server.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        await disposer;
        Assert.True(DateTime.UtcNow - started < Long, "the poll ran its whole window on a disposed socket");
        Assert.Equal(0, slots.Taken);
    }

    [Fact]
    public async Task Reading_through_the_array_overload_polls_too_and_returns_the_bytes()
    {
        var slots = new PollerSlots(1);
        var polling = new ReceivePolling(Long, slots);
        using var pair = new Pair(polling);
        var buffer = new byte[64];
        await WarmAsync(pair, buffer);

        var payload = Enumerable.Range(1, 20).Select(i => (byte)i).ToArray();
        var sender = Task.Run(() => { SpinUntil(() => slots.Taken == 1); pair.Client.Send(payload); });
        int n = await pair.Server.ReadAsync(buffer, 4, 40, CancellationToken.None);
        await sender;
        Assert.Equal(20, n);
        Assert.Equal(payload, buffer[4..24]);
        Assert.Equal(1, polling.Hits);
    }
}
