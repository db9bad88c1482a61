using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Port.Tests.Engine;

public class QueueTests
{
    private static TestMiniport Holding() => new() { OnIo = static (srb, m) => m.Hold(srb) };

    [Fact]
    public async Task The_default_lu_queue_depth_is_250_and_extra_requests_wait_in_the_port()
    {
        await using var f = await PortFixture.StartAsync(Holding());
        var lu = f.Adapter.LogicalUnits[0];
        Assert.Equal(250, lu.QueueDepth);
        var srbs = Enumerable.Range(0, 260).Select(_ => f.Read()).ToList();
        srbs.ForEach(f.Adapter.Submit);
        Assert.Equal(250, lu.OutstandingCount);
        Assert.Equal(10, lu.PendingCount);
        f.Miniport.CompleteAllHeld();
        f.Miniport.CompleteAllHeld();
        Assert.Equal(0, lu.OutstandingCount + lu.PendingCount);
        srbs.ForEach(s => s.Release());
    }

    [Fact]
    public async Task SetDeviceQueueDepth_limits_outstanding_requests_and_rejects_out_of_range_depths()
    {
        await using var f = await PortFixture.StartAsync(Holding());
        Assert.False(f.Miniport.Port.SetDeviceQueueDepth(PortFixture.Lu0, 0));
        Assert.False(f.Miniport.Port.SetDeviceQueueDepth(PortFixture.Lu0, 256));
        Assert.True(f.Miniport.Port.SetDeviceQueueDepth(PortFixture.Lu0, 2));
        Assert.Single(f.Events(StorageEventIds.QueueDepthSet));
        var srbs = Enumerable.Range(0, 5).Select(_ => f.Read()).ToList();
        srbs.ForEach(f.Adapter.Submit);
        var lu = f.Adapter.LogicalUnits[0];
        Assert.Equal(2, lu.OutstandingCount);
        Assert.Equal(3, lu.PendingCount);
        f.Miniport.Held.TryDequeue(out var first);
        f.Miniport.Complete(first!, SrbStatus.Success);
        Assert.Equal(2, lu.OutstandingCount);
        Assert.Equal(2, lu.PendingCount);
        while (f.Miniport.CompleteAllHeld() > 0) { }
        srbs.ForEach(s => s.Release());
    }

    [Fact]
    public async Task An_ordered_request_waits_for_earlier_ones_and_later_ones_wait_for_it()
    {
        await using var f = await PortFixture.StartAsync(Holding());
        var lu = f.Adapter.LogicalUnits[0];
        var s1 = f.Read();
        var ordered = f.Read(action: QueueAction.Ordered);
        var s2 = f.Read();
        f.Adapter.Submit(s1);
        f.Adapter.Submit(ordered);
        f.Adapter.Submit(s2);
        Assert.Equal([s1], f.Miniport.Held.ToArray());
        f.Miniport.CompleteAllHeld();
        Assert.Equal([ordered], f.Miniport.Held.ToArray()); // s2 waits behind the ORDERED request
        f.Miniport.CompleteAllHeld();
        Assert.Equal([s2], f.Miniport.Held.ToArray());
        f.Miniport.CompleteAllHeld();
        Assert.Equal(0, lu.PendingCount);
        s1.Release(); ordered.Release(); s2.Release();
    }

    [Fact]
    public async Task Head_of_queue_jumps_the_waiting_requests()
    {
        await using var f = await PortFixture.StartAsync(Holding());
        f.Miniport.Port.SetDeviceQueueDepth(PortFixture.Lu0, 1);
        var first = f.Read();
        var waiting = f.Read();
        var urgent = f.Read(action: QueueAction.HeadOfQueue);
        f.Adapter.Submit(first);
        f.Adapter.Submit(waiting);
        f.Adapter.Submit(urgent);
        f.Miniport.CompleteAllHeld();
        Assert.Equal([urgent], f.Miniport.Held.ToArray());
        f.Miniport.CompleteAllHeld();
        Assert.Equal([waiting], f.Miniport.Held.ToArray());
        f.Miniport.CompleteAllHeld();
        first.Release(); waiting.Release(); urgent.Release();
    }

    [Fact]
    public async Task Pause_holds_adapter_io_until_resume_or_the_timeout()
    {
        await using var f = await PortFixture.StartAsync();
        var done = new Completions(f.Clock);
        f.Miniport.Port.Pause(TimeSpan.FromSeconds(2));
        var a = f.Read(handler: done);
        f.Adapter.Submit(a);
        f.Advance(1_750);
        Assert.Equal(0, done.Count);
        f.Advance(250);
        Assert.Equal(TimeSpan.FromSeconds(2), Assert.Single(done.At));

        f.Miniport.Port.Pause(TimeSpan.FromSeconds(60));
        var b = f.Read(handler: done);
        f.Adapter.Submit(b);
        f.Advance(1_000);
        Assert.Equal(1, done.Count);
        f.Miniport.Port.Resume();
        Assert.Equal(2, done.Count);
        a.Release(); b.Release();
    }

    [Fact]
    public async Task PauseDevice_holds_only_that_lu()
    {
        var mp = new TestMiniport([new(0, 0, 0), new(0, 0, 1)]);
        await using var f = await PortFixture.StartAsync(mp);
        var done = new Completions();
        f.Miniport.Port.PauseDevice(new(0, 0, 1), TimeSpan.FromSeconds(30));
        var paused = f.Read(new(0, 0, 1), handler: done);
        var other = f.Read(new(0, 0, 0), handler: done);
        f.Adapter.Submit(paused);
        f.Adapter.Submit(other);
        Assert.Equal([other], done.All);
        f.Miniport.Port.ResumeDevice(new(0, 0, 1));
        Assert.Equal([other, paused], done.All);
        paused.Release(); other.Release();
    }

    [Fact]
    public async Task Busy_and_DeviceBusy_hold_new_io_until_n_requests_complete()
    {
        await using var f = await PortFixture.StartAsync(Holding());
        var lu = f.Adapter.LogicalUnits[0];
        var early = Enumerable.Range(0, 3).Select(_ => f.Read()).ToList();
        early.ForEach(f.Adapter.Submit);
        f.Miniport.Port.DeviceBusy(PortFixture.Lu0, 2);
        var late = f.Read();
        f.Adapter.Submit(late);
        Assert.Equal(1, lu.PendingCount);
        f.Miniport.Held.TryDequeue(out var x); f.Miniport.Complete(x!, SrbStatus.Success);
        Assert.Equal(1, lu.PendingCount);
        f.Miniport.Held.TryDequeue(out var y); f.Miniport.Complete(y!, SrbStatus.Success);
        Assert.Equal(0, lu.PendingCount);

        f.Miniport.Port.Busy(1);
        var later = f.Read();
        f.Adapter.Submit(later);
        Assert.Equal(1, lu.PendingCount);
        f.Miniport.Port.Ready();
        Assert.Equal(0, lu.PendingCount);
        while (f.Miniport.CompleteAllHeld() > 0) { }
        early.ForEach(s => s.Release()); late.Release(); later.Release();
    }

    [Fact]
    public async Task CompleteAllRequests_with_wildcards_completes_every_matching_outstanding_request()
    {
        var mp = new TestMiniport([new(0, 0, 0), new(0, 0, 1), new(0, 1, 0)], targets: 2) { OnIo = static (s, m) => m.Hold(s) };
        await using var f = await PortFixture.StartAsync(mp);
        var done = new Completions();
        var t0l0 = f.Read(new(0, 0, 0), handler: done);
        var t0l1 = f.Read(new(0, 0, 1), handler: done);
        var t1l0 = f.Read(new(0, 1, 0), handler: done);
        f.Adapter.Submit(t0l0); f.Adapter.Submit(t0l1); f.Adapter.Submit(t1l0);
        f.Miniport.Port.CompleteAllRequests(new ScsiAddress(0, 0, ScsiAddress.Wildcard), SrbStatus.BusReset);
        Assert.Equal(2, done.Count);
        Assert.DoesNotContain(t1l0, done.All);
        // The miniport said it is done with those: completing them again is a violation.
        f.Miniport.Held.TryDequeue(out var stale);
        f.Miniport.Complete(stale!, SrbStatus.Success);
        Assert.Single(f.Events(StorageEventIds.ContractViolation));
        f.Miniport.CompleteAllHeld();
        t0l0.Release(); t0l1.Release(); t1l0.Release();
    }
}
