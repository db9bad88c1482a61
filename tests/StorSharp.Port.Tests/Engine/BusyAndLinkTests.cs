using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Port.Tests.Engine;

public class BusyAndLinkTests
{
    [Fact]
    public async Task Busy_three_times_then_success_completes_after_three_busy_pauses()
    {
        int attempts = 0;
        var mp = new TestMiniport
        {
            OnIo = (srb, m) => m.Complete(srb, ++attempts <= 3 ? SrbStatus.Busy : SrbStatus.Success),
        };
        await using var f = await PortFixture.StartAsync(mp);
        var done = new Completions(f.Clock);
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        Assert.Equal(1, attempts);
        f.Advance(749);
        Assert.Equal(3, attempts);
        Assert.Equal(0, done.Count);
        f.Advance(1);
        Assert.Equal(4, attempts);
        Assert.Equal(SrbStatus.Success, Assert.Single(done.All).Status);
        Assert.Equal(TimeSpan.FromMilliseconds(750), done.At[0]);
        Assert.Equal(3, f.Adapter.LogicalUnits[0].Counters.BusyRetries);
        srb.Release();
    }

    [Fact]
    public async Task Busy_beyond_BusyRetryCount_fails_the_request_with_busy()
    {
        int attempts = 0;
        var mp = new TestMiniport { OnIo = (srb, m) => { attempts++; m.Complete(srb, SrbStatus.Busy); } };
        await using var f = await PortFixture.StartAsync(mp, new PortTunables { BusyRetryCount = 5 });
        var done = new Completions();
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        f.Clock.AdvanceInSteps(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(250));
        Assert.Equal(6, attempts); // the first try and 5 retries
        Assert.Equal(SrbStatus.Busy, Assert.Single(done.All).Status);
        srb.Release();
    }

    [Fact]
    public async Task Startio_refusing_a_request_is_treated_as_busy_and_retried()
    {
        var mp = new TestMiniport();
        var refusing = new RefusingMiniport(mp);
        await using var port = new StoragePort(new PortOptions { Time = new ManualTimeProvider() });
        var clock = (ManualTimeProvider)port.Time;
        var adapter = await port.AddAdapterAsync(new VirtualMiniportRegistration { Name = "Refusing", CreateMiniport = () => refusing });
        var done = new Completions();
        var srb = SrbPool.Shared.Rent();
        srb.InitCdb(6);
        srb.CompletionHandler = done;
        adapter.Submit(srb);
        Assert.Equal(0, done.Count); // refused: held for BusyPauseTime
        clock.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal(SrbStatus.Success, Assert.Single(done.All).Status);
        Assert.Equal(1, adapter.LogicalUnits[0].Counters.BusyRetries);
        srb.Release();
    }

    private sealed class RefusingMiniport(TestMiniport inner) : IVirtualMiniport
    {
        private bool _refused;
        public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments) => inner.FindAdapter(port, configuration, arguments);
        public bool Initialize() => inner.Initialize();
        public bool StartIo(Srb srb)
        {
            if (srb.OperationCode == 0x00 && !_refused) { _refused = true; return false; }
            return inner.StartIo(srb);
        }
        public bool ResetBus(byte pathId) => inner.ResetBus(pathId);
        public ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported) => inner.AdapterControl(type, supported);
        public void FreeAdapterResources() => inner.FreeAdapterResources();
    }

    [Fact]
    public async Task Queue_full_holds_new_io_until_a_quarter_of_the_outstanding_requests_complete()
    {
        var mp = new TestMiniport();
        bool full = false;
        mp.OnIo = (srb, m) =>
        {
            if (srb.RequestId == 99 && !full) { full = true; m.Complete(srb, SrbStatus.Error, ScsiStatus.TaskSetFull); }
            else m.Hold(srb);
        };
        await using var f = await PortFixture.StartAsync(mp);
        var done = new Completions();
        var srbs = Enumerable.Range(0, 8).Select(_ => f.Read(handler: done)).ToList();
        srbs.ForEach(f.Adapter.Submit);
        var rejected = f.Read(handler: done);
        rejected.RequestId = 99;
        f.Adapter.Submit(rejected); // QUEUE FULL with 8 outstanding -> hold until 2 (25 %) complete
        var next = f.Read(handler: done);
        f.Adapter.Submit(next);
        var lu = f.Adapter.LogicalUnits[0];
        Assert.Equal(8, lu.OutstandingCount);
        Assert.Equal(2, lu.PendingCount);

        mp.Held.TryDequeue(out var a);
        mp.Complete(a!, SrbStatus.Success);
        Assert.Equal(2, lu.PendingCount); // one of eight is not a quarter yet
        mp.Held.TryDequeue(out var b);
        mp.Complete(b!, SrbStatus.Success);
        Assert.Equal(0, lu.PendingCount); // a quarter done: the retried request and the next one start
        Assert.Equal(8, lu.OutstandingCount);
        Assert.Equal(1, lu.Counters.QueueFullRetries);
        Assert.DoesNotContain(rejected, done.All);
        mp.CompleteAllHeld();
        Assert.Equal(SrbStatus.Success, rejected.Status);
        srbs.ForEach(s => s.Release());
        rejected.Release();
        next.Release();
    }

    [Fact]
    public async Task Link_down_for_five_seconds_holds_io_then_completes_it_when_the_link_is_back()
    {
        await using var f = await PortFixture.StartAsync();
        var done = new Completions(f.Clock);
        f.Miniport.Port.LinkDown();
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        f.Advance(5_000);
        Assert.Equal(0, done.Count);
        Assert.Equal(1, f.Adapter.LogicalUnits[0].PendingCount);
        f.Miniport.Port.LinkUp();
        Assert.Equal(SrbStatus.Success, Assert.Single(done.All).Status);
        Assert.Single(f.Events(StorageEventIds.LinkDown));
        Assert.Single(f.Events(StorageEventIds.LinkUp));
        srb.Release();
    }

    [Fact]
    public async Task Link_down_past_LinkDownTimeout_fails_held_io_and_new_io_until_link_up()
    {
        await using var f = await PortFixture.StartAsync();
        var done = new Completions(f.Clock);
        f.Miniport.Port.LinkDown();
        var held = f.Read(handler: done);
        f.Adapter.Submit(held);
        f.Advance(29_999);
        Assert.Equal(0, done.Count);
        f.Advance(1);
        Assert.Equal(SrbStatus.LinkDown, Assert.Single(done.All).Status);
        Assert.Equal(TimeSpan.FromSeconds(30), done.At[0]);
        Assert.Single(f.Events(StorageEventIds.LinkDownTimeout));

        f.Advance(1_000); // 31 s: a new request fails at once
        var late = f.Read();
        await f.Adapter.ExecuteAsync(late);
        Assert.Equal(SrbStatus.LinkDown, late.Status);

        f.Miniport.Port.LinkUp();
        var after = f.Read();
        await f.Adapter.ExecuteAsync(after);
        Assert.Equal(SrbStatus.Success, after.Status);
        held.Release(); late.Release(); after.Release();
    }
}
