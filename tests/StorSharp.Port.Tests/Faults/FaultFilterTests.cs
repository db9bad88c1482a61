using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Port.Tests.Faults;

public class FaultFilterTests
{
    private static LogicalUnit Lu(PortFixture f) => f.Adapter.GetLogicalUnit(PortFixture.Lu0)!;

    [Fact]
    public async Task Without_rules_an_lu_has_no_filter_and_requests_reach_the_miniport()
    {
        await using var f = await PortFixture.StartAsync();
        Assert.Null(Lu(f).Faults);
        var calls = f.Miniport.StartIoCalls;
        var srb = f.Read();
        await f.Adapter.ExecuteAsync(srb);
        Assert.Equal(SrbStatus.Success, srb.Status);
        Assert.Equal(calls + 1, f.Miniport.StartIoCalls);
        srb.Release();
    }

    [Fact]
    public async Task An_error_rule_with_a_count_fails_that_many_matching_requests_with_its_sense_then_is_spent()
    {
        await using var f = await PortFixture.StartAsync();
        Lu(f).SetFaults([new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Read, Count = 2, SenseKey = 3, Asc = 0x11, Ascq = 0x00 }]);
        var statuses = new List<(SrbStatus, ScsiStatus, byte, byte)>();
        for (int i = 0; i < 3; i++)
        {
            var srb = f.Read();
            await f.Adapter.ExecuteAsync(srb);
            var sense = srb.SenseData.ToArray();
            statuses.Add((srb.Status, srb.ScsiStatus, sense.Length > 2 ? sense[2] : (byte)0, sense.Length > 12 ? sense[12] : (byte)0));
            srb.Release();
        }
        Assert.Equal((SrbStatus.Error, ScsiStatus.CheckCondition, (byte)3, (byte)0x11), statuses[0]);
        Assert.Equal((SrbStatus.Error, ScsiStatus.CheckCondition, (byte)3, (byte)0x11), statuses[1]);
        Assert.Equal(SrbStatus.Success, statuses[2].Item1);
        Assert.Equal([2L], Lu(f).Faults!.Hits);
        Assert.Single(f.Events(StorageEventIds.FaultsSet));
    }

    [Fact]
    public async Task A_rule_for_writes_leaves_reads_alone()
    {
        await using var f = await PortFixture.StartAsync();
        Lu(f).SetFaults([new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Write }]);
        var srb = f.Read();
        await f.Adapter.ExecuteAsync(srb);
        Assert.Equal(SrbStatus.Success, srb.Status);
        srb.Release();
    }

    [Fact]
    public async Task Busy_is_retried_by_the_port_after_the_busy_pause_and_the_submitter_sees_only_success()
    {
        await using var f = await PortFixture.StartAsync();
        Lu(f).SetFaults([new FaultRule { Kind = FaultKind.Busy, Count = 2 }]);
        var done = new Completions(f.Clock);
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        Assert.Equal(0, done.Count);
        f.Advance(250);
        Assert.Equal(0, done.Count);
        f.Advance(250);
        Assert.Equal(1, done.Count);
        Assert.Equal(SrbStatus.Success, srb.Status);
        Assert.Equal(TimeSpan.FromMilliseconds(500), done.At[0]);
        Assert.Equal(2, Lu(f).Counters.BusyRetries);
        srb.Release();
    }

    [Fact]
    public async Task Queue_full_is_retried_and_counted_as_queue_full()
    {
        await using var f = await PortFixture.StartAsync();
        Lu(f).SetFaults([new FaultRule { Kind = FaultKind.QueueFull, Count = 1 }]);
        var done = new Completions(f.Clock);
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        f.Advance(250);
        Assert.Equal(1, done.Count);
        Assert.Equal(SrbStatus.Success, srb.Status);
        Assert.Equal(1, Lu(f).Counters.QueueFullRetries);
        srb.Release();
    }

    [Fact]
    public async Task A_delay_holds_the_request_for_its_time_then_the_miniport_serves_it()
    {
        await using var f = await PortFixture.StartAsync();
        Lu(f).SetFaults([new FaultRule { Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(300) }]);
        var done = new Completions(f.Clock);
        var calls = f.Miniport.StartIoCalls;
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        f.Advance(299);
        Assert.Equal(0, done.Count);
        Assert.Equal(calls, f.Miniport.StartIoCalls);
        f.Advance(1);
        Assert.Equal(1, done.Count);
        Assert.Equal(SrbStatus.Success, srb.Status);
        Assert.Equal(calls + 1, f.Miniport.StartIoCalls);
        Lu(f).SetFaults(null); // the manual clock stops with the test: the stop's FLUSH must not wait for it
        srb.Release();
    }

    [Fact]
    public async Task A_stall_makes_the_lu_timer_fire_event_129_and_the_lu_reset_releases_the_request()
    {
        await using var f = await PortFixture.StartAsync();
        Lu(f).SetFaults([new FaultRule { Kind = FaultKind.Stall, Count = 1 }]);
        var done = new Completions(f.Clock);
        var srb = f.Read(timeout: 2, handler: done);
        f.Adapter.Submit(srb);
        Assert.Equal(1, Lu(f).Faults!.StalledCount);
        f.Advance(1_750);
        Assert.Equal(0, done.Count);
        f.Advance(250);
        Assert.Single(f.Events(StorageEventIds.ResetToDevice));
        Assert.Single(f.Events(StorageEventIds.LunReset));
        Assert.Equal(1, done.Count);
        Assert.Equal(SrbStatus.BusReset, srb.Status);
        Assert.True(srb.IsResetByPort);
        Assert.Equal(0, Lu(f).Faults!.StalledCount);
        Assert.Empty(f.Events(StorageEventIds.ContractViolation));
        srb.Release();

        // The rule is spent: the retry succeeds.
        var retry = f.Read(timeout: 2);
        await f.Adapter.ExecuteAsync(retry);
        Assert.Equal(SrbStatus.Success, retry.Status);
        retry.Release();
    }

    [Fact]
    public async Task An_abort_of_a_stalled_request_completes_it_aborted()
    {
        await using var f = await PortFixture.StartAsync();
        Lu(f).SetFaults([new FaultRule { Kind = FaultKind.Stall }]);
        var done = new Completions(f.Clock);
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        var abort = SrbPool.Shared.Rent();
        abort.Function = SrbFunction.AbortCommand;
        abort.Address = PortFixture.Lu0;
        abort.AbortTarget = srb;
        await f.Adapter.ExecuteAsync(abort);
        Assert.Equal(SrbStatus.Success, abort.Status);
        Assert.Equal(SrbStatus.Aborted, srb.Status);
        Assert.Equal(1, done.Count);
        abort.Release();
        srb.Release();
    }

    [Fact]
    public async Task An_abort_of_a_delayed_request_completes_it_aborted_and_it_never_reaches_the_miniport()
    {
        await using var f = await PortFixture.StartAsync();
        Lu(f).SetFaults([new FaultRule { Kind = FaultKind.Delay, Delay = TimeSpan.FromSeconds(1), Count = 1 }]);
        var done = new Completions(f.Clock);
        var calls = f.Miniport.StartIoCalls;
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        var abort = SrbPool.Shared.Rent();
        abort.Function = SrbFunction.AbortCommand;
        abort.Address = PortFixture.Lu0;
        abort.AbortTarget = srb;
        await f.Adapter.ExecuteAsync(abort);
        Assert.Equal(SrbStatus.Aborted, srb.Status);
        f.Advance(1_000);
        Assert.Equal(1, done.Count);
        Assert.Equal(calls, f.Miniport.StartIoCalls);
        Assert.Empty(f.Events(StorageEventIds.ContractViolation));
        abort.Release();
        srb.Release();
    }

    [Fact]
    public async Task Clearing_faults_releases_stalled_requests_so_nothing_hangs()
    {
        await using var f = await PortFixture.StartAsync();
        Lu(f).SetFaults([new FaultRule { Kind = FaultKind.Stall }]);
        var done = new Completions(f.Clock);
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        Lu(f).SetFaults(null);
        Assert.Null(Lu(f).Faults);
        Assert.Equal(1, done.Count);
        Assert.Equal(SrbStatus.BusReset, srb.Status);
        Assert.Single(f.Events(StorageEventIds.FaultsCleared));
        Assert.Empty(f.Events(StorageEventIds.ContractViolation));
        srb.Release();
    }

    [Theory]
    [InlineData(FaultKind.Timeout, SrbStatus.Timeout)]
    [InlineData(FaultKind.CommandTimeout, SrbStatus.CommandTimeout)]
    public async Task A_miniport_timeout_is_logged_as_event_153_and_retried_transparently_by_the_class_layer(FaultKind kind, SrbStatus status)
    {
        await using var f = await PortFixture.StartAsync(tunables: new PortTunables { ClassRetryInterval = TimeSpan.FromMilliseconds(250) });
        Lu(f).SetFaults([new FaultRule { Kind = kind, Count = 1 }]);
        var done = new Completions(f.Clock);
        var srb = f.Read(handler: done);
        ClassRetry.Submit(f.Adapter, srb);
        Assert.Equal(0, done.Count);
        var e153 = Assert.Single(f.Events(StorageEventIds.IoRetried));
        Assert.Equal("disk", e153.Source);
        Assert.Equal($"0x{(byte)status:X2}", e153.Data["SrbStatus"]);
        Assert.Equal("0x28", e153.Data["Opcode"]);
        f.Advance(250);
        Assert.Equal(1, done.Count);
        Assert.Equal(SrbStatus.Success, srb.Status);
        Assert.Empty(f.Events(StorageEventIds.ResetToDevice));
        srb.Release();
    }

    [Fact]
    public async Task Link_down_shorter_than_the_timeout_holds_io_then_completes_it()
    {
        await using var f = await PortFixture.StartAsync(tunables: new PortTunables { LinkDownTimeout = TimeSpan.FromSeconds(2) });
        FaultActions.LinkDownFor(f.Adapter, TimeSpan.FromSeconds(1));
        var done = new Completions(f.Clock);
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        f.Advance(999);
        Assert.Equal(0, done.Count);
        f.Advance(1);
        Assert.Equal(1, done.Count);
        Assert.Equal(SrbStatus.Success, srb.Status);
        Assert.Single(f.Events(StorageEventIds.LinkDownInjected));
        Assert.Single(f.Events(StorageEventIds.LinkUp));
        srb.Release();
    }

    [Fact]
    public async Task Link_down_longer_than_the_timeout_fails_held_io_with_link_down()
    {
        await using var f = await PortFixture.StartAsync(tunables: new PortTunables { LinkDownTimeout = TimeSpan.FromSeconds(1) });
        FaultActions.LinkDownFor(f.Adapter, TimeSpan.FromSeconds(3));
        var done = new Completions(f.Clock);
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        f.Advance(1_000);
        Assert.Equal(1, done.Count);
        Assert.Equal(SrbStatus.LinkDown, srb.Status);
        Assert.Single(f.Events(StorageEventIds.LinkDownTimeout));
        f.Advance(2_000);
        var after = f.Read();
        await f.Adapter.ExecuteAsync(after);
        Assert.Equal(SrbStatus.Success, after.Status);
        srb.Release();
        after.Release();
    }

    [Fact]
    public async Task Connection_drop_reaches_every_subscribed_front_end_with_the_address()
    {
        await using var f = await PortFixture.StartAsync();
        var seen = new List<ScsiAddress>();
        f.Adapter.ConnectionDropRequested += seen.Add;
        Assert.Equal(1, FaultActions.DropConnections(Lu(f)));
        Assert.Equal([PortFixture.Lu0], seen);
        Assert.Single(f.Events(StorageEventIds.ConnectionsDropped));
    }

    [Theory]
    [InlineData("count")]
    [InlineData("rate")]
    [InlineData("delay")]
    [InlineData("senseKey")]
    [InlineData("operations")]
    public async Task Bad_rules_are_refused_naming_the_field_and_change_nothing(string field)
    {
        await using var f = await PortFixture.StartAsync();
        var rule = field switch
        {
            "count" => new FaultRule { Kind = FaultKind.Busy, Count = 0 },
            "rate" => new FaultRule { Kind = FaultKind.Busy, Rate = 1.5 },
            "delay" => new FaultRule { Kind = FaultKind.Delay },
            "senseKey" => new FaultRule { Kind = FaultKind.Error, SenseKey = 0 },
            _ => new FaultRule { Kind = FaultKind.Busy, Operations = FaultOperations.None },
        };
        var e = Assert.Throws<ArgumentException>(() => Lu(f).SetFaults([rule]));
        Assert.Equal(field, e.ParamName);
        Assert.Null(Lu(f).Faults);
    }

    [Fact]
    public void Operations_are_classified_by_opcode()
    {
        Assert.Equal(FaultOperations.Read, FaultOperationClassifier.Classify(0x28));
        Assert.Equal(FaultOperations.Write, FaultOperationClassifier.Classify(0x8A));
        Assert.Equal(FaultOperations.Flush, FaultOperationClassifier.Classify(0x35));
        Assert.Equal(FaultOperations.Unmap, FaultOperationClassifier.Classify(0x42));
        Assert.Equal(FaultOperations.Other, FaultOperationClassifier.Classify(0x12));
    }
}
