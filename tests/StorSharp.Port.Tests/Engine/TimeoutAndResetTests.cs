using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Port.Tests.Engine;

public class TimeoutAndResetTests
{
    private static TestMiniport Holding(ResetBehavior lu = ResetBehavior.CompleteHeldAndSucceed) =>
        new() { OnIo = static (srb, m) => m.Hold(srb), LuReset = lu };

    [Fact]
    public async Task A_request_that_never_completes_logs_event_129_exactly_at_its_timeout_and_the_lu_reset_completes_everything()
    {
        await using var f = await PortFixture.StartAsync(Holding());
        var done = new Completions(f.Clock);
        var srbs = Enumerable.Range(0, 3).Select(_ => f.Read(timeout: 10, handler: done)).ToList();
        srbs.ForEach(f.Adapter.Submit);
        Assert.Equal(3, f.Miniport.Held.Count);

        f.Advance(9_999);
        Assert.Empty(f.Events(StorageEventIds.ResetToDevice));
        Assert.Equal(0, done.Count);

        f.Advance(1);
        var e129 = Assert.Single(f.Events(StorageEventIds.ResetToDevice));
        Assert.Equal(@"Reset to device, \Device\RaidPort0, was issued.", e129.Message);
        Assert.Equal("TestMiniport", e129.Source);
        Assert.Equal("0:0:0", e129.Data["Address"]);
        Assert.Equal("0x28", e129.Data["Opcode"]);
        var reset = Assert.Single(f.Miniport.ResetRequests);
        Assert.Equal(SrbFunction.ResetLogicalUnit, reset.Function);
        Assert.Equal(PortFixture.Lu0, reset.Address);
        Assert.Equal(3, done.Count);
        Assert.All(done.All, s => Assert.Equal(SrbStatus.BusReset, s.Status));
        Assert.All(done.All, s => Assert.True(s.IsResetByPort));
        Assert.All(done.At, t => Assert.Equal(TimeSpan.FromSeconds(10), t));
        Assert.Empty(f.Events(StorageEventIds.ContractViolation));
        srbs.ForEach(s => s.Release());
    }

    [Fact]
    public async Task The_lu_timer_reloads_from_the_head_request_on_every_completion()
    {
        await using var f = await PortFixture.StartAsync(Holding());
        var first = f.Read(timeout: 10);
        var second = f.Read(timeout: 10);
        f.Adapter.Submit(first);
        f.Advance(5_000);
        f.Adapter.Submit(second);
        f.Advance(3_000);
        f.Miniport.Held.TryDequeue(out var head);
        f.Miniport.Complete(head!, SrbStatus.Success); // at 8 s: timer reloads to 8 + 10 = 18 s
        f.Advance(9_750);
        Assert.Empty(f.Events(StorageEventIds.ResetToDevice));
        f.Advance(250);
        Assert.Single(f.Events(StorageEventIds.ResetToDevice));
        first.Release();
        second.Release();
    }

    [Fact]
    public async Task A_no_op_reset_still_leaves_no_request_hung()
    {
        await using var f = await PortFixture.StartAsync(Holding(ResetBehavior.SucceedWithoutCompleting));
        var pool = new SrbPool();
        var done = new Completions(f.Clock);
        var srb = pool.Rent();
        srb.InitCdb(10)[0] = 0x28;
        srb.Data.Rent(512);
        srb.TimeOutValue = 5;
        srb.CompletionHandler = done;
        f.Adapter.Submit(srb);
        f.Advance(5_000);
        Assert.Equal(SrbStatus.BusReset, Assert.Single(done.All).Status);
        Assert.True(srb.IsCompletedByPort);

        // The miniport still holds the SRB: it must not go back to the pool until the miniport lets go.
        srb.Release();
        Assert.Equal(0, pool.Count);
        Assert.Equal(1, f.Miniport.CompleteAllHeld());
        Assert.Equal(1, pool.Count);
        Assert.Empty(f.Events(StorageEventIds.ContractViolation));
        Assert.Equal(1, done.Count); // the late completion did not complete the request a second time
    }

    [Fact]
    public async Task A_failing_lu_reset_escalates_to_target_then_bus_and_the_port_completes_whatever_is_left()
    {
        var mp = Holding(ResetBehavior.Fail);
        mp.TargetReset = ResetBehavior.NoAnswer;
        mp.BusResetCompletesHeld = false;
        mp.BusResetResult = false;
        await using var f = await PortFixture.StartAsync(mp, new PortTunables { ResetTimeout = TimeSpan.FromSeconds(2) });
        var done = new Completions(f.Clock);
        var srb = f.Read(timeout: 4, handler: done);
        f.Adapter.Submit(srb);

        f.Advance(4_000);
        Assert.Single(f.Events(StorageEventIds.ResetToDevice));
        Assert.Single(f.Events(StorageEventIds.LunReset));
        Assert.Single(f.Events(StorageEventIds.TargetReset)); // LU reset failed -> target reset at once
        Assert.Equal(0, done.Count);
        Assert.True(f.Adapter.LogicalUnits[0].IsResetting);

        f.Advance(1_750);
        Assert.Empty(f.Miniport.BusResets);
        f.Advance(250); // the target reset got no answer within ResetTimeout -> bus reset
        Assert.Equal([(byte)0], f.Miniport.BusResets);
        Assert.Equal(3, f.Events(StorageEventIds.ResetFailed).Count); // LU, target, bus
        var completed = Assert.Single(done.All);
        Assert.Equal(SrbStatus.BusReset, completed.Status);
        Assert.True(completed.IsCompletedByPort);
        Assert.Equal(TimeSpan.FromSeconds(6), done.At[0]);
        Assert.False(f.Adapter.LogicalUnits[0].IsResetting);

        // The LU works again afterwards.
        mp.OnIo = static (s, m) => m.Complete(s, SrbStatus.Success);
        var after = f.Read();
        await f.Adapter.ExecuteAsync(after);
        Assert.Equal(SrbStatus.Success, after.Status);
        after.Release();
        srb.Release();
    }

    [Fact]
    public async Task A_front_end_lu_reset_goes_through_the_same_ladder()
    {
        await using var f = await PortFixture.StartAsync(Holding());
        var done = new Completions();
        var io = f.Read(handler: done);
        f.Adapter.Submit(io);
        var reset = SrbPool.Shared.Rent();
        reset.Function = SrbFunction.ResetLogicalUnit;
        reset.Address = PortFixture.Lu0;
        await f.Adapter.ExecuteAsync(reset);
        Assert.Equal(SrbStatus.Success, reset.Status);
        Assert.Equal(SrbStatus.BusReset, Assert.Single(done.All).Status);
        Assert.False(io.IsResetByPort); // not a port timeout: no event 129
        Assert.Empty(f.Events(StorageEventIds.ResetToDevice));
        reset.Release();
        io.Release();
    }

    [Fact]
    public async Task Abort_takes_a_queued_request_out_and_asks_the_miniport_for_an_outstanding_one()
    {
        var mp = Holding();
        await using var f = await PortFixture.StartAsync(mp);
        f.Miniport.Port.SetDeviceQueueDepth(PortFixture.Lu0, 1);
        var done = new Completions();
        var outstanding = f.Read(handler: done);
        var queued = f.Read(handler: done);
        f.Adapter.Submit(outstanding);
        f.Adapter.Submit(queued);
        Assert.Equal(1, f.Adapter.LogicalUnits[0].PendingCount);

        async Task<SrbStatus> Abort(Srb target)
        {
            var abort = SrbPool.Shared.Rent();
            abort.Function = SrbFunction.AbortCommand;
            abort.Address = target.Address;
            abort.AbortTarget = target;
            await f.Adapter.ExecuteAsync(abort);
            var status = abort.Status;
            abort.Release();
            return status;
        }

        Assert.Equal(SrbStatus.Success, await Abort(queued));
        Assert.Equal(SrbStatus.Aborted, queued.Status);
        Assert.Equal(SrbStatus.Success, await Abort(outstanding));
        Assert.Equal(SrbStatus.Aborted, outstanding.Status);
        Assert.Equal(2, done.Count);
        outstanding.Release();
        queued.Release();
    }
}
