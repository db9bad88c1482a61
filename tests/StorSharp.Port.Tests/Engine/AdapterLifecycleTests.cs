using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Port.Tests.Engine;

public class AdapterLifecycleTests
{
    [Fact]
    public async Task Start_runs_FindAdapter_Initialize_then_QuerySupportedControlTypes_before_any_io()
    {
        await using var f = await PortFixture.StartAsync();
        Assert.Equal(["FindAdapter", "Initialize", "QuerySupportedControlTypes"], f.Miniport.Calls.Take(3));
        Assert.Equal(AdapterState.Running, f.Adapter.State);
        Assert.Equal("RaidPort0", f.Adapter.Name);
        Assert.Contains(AdapterControlType.StopAdapter, (IReadOnlySet<AdapterControlType>)f.Adapter.SupportedControlTypes);
    }

    [Fact]
    public async Task Enumeration_finds_exactly_the_units_the_miniport_has()
    {
        var mp = new TestMiniport([new(0, 0, 0), new(0, 0, 3), new(0, 2, 1), new(1, 1, 0)], buses: 2, targets: 3);
        await using var f = await PortFixture.StartAsync(mp);
        Assert.Equal(
            [new ScsiAddress(0, 0, 0), new ScsiAddress(0, 0, 3), new ScsiAddress(0, 2, 1), new ScsiAddress(1, 1, 0)],
            f.Adapter.LogicalUnits.Select(u => u.Address));
        Assert.Equal("TestDisk", f.Adapter.LogicalUnits[0].Identity!.ProductId);
        Assert.Equal(4, f.Events(StorageEventIds.LunAdded).Count);
        Assert.Contains("UnitControl:Start:0:2:1", f.Miniport.Calls);
    }

    [Fact]
    public async Task Io_submitted_before_Initialize_finishes_is_refused_and_never_reaches_StartIo()
    {
        using var initializing = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var mp = new BlockingInitializeMiniport(initializing, release);
        await using var port = new StoragePort();
        var start = Task.Run(() => port.AddAdapterAsync(new VirtualMiniportRegistration { Name = "Slow", CreateMiniport = () => mp }));
        Assert.True(initializing.Wait(TimeSpan.FromSeconds(10)));
        var adapter = Assert.Single(port.Adapters);
        Assert.Equal(AdapterState.Starting, adapter.State);
        var srb = SrbPool.Shared.Rent();
        srb.InitCdb(6);
        var ex = Assert.Throws<InvalidOperationException>(() => adapter.Submit(srb));
        Assert.Contains("before Initialize finished", ex.Message);
        Assert.Equal(0, mp.Inner.StartIoCalls);
        release.Set();
        await start;
        await adapter.ExecuteAsync(srb);
        Assert.Equal(SrbStatus.Success, srb.Status);
        srb.Release();
    }

    private sealed class BlockingInitializeMiniport(ManualResetEventSlim initializing, ManualResetEventSlim release) : IVirtualMiniport
    {
        public TestMiniport Inner { get; } = new();
        public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments) => Inner.FindAdapter(port, configuration, arguments);
        public bool Initialize()
        {
            initializing.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            return Inner.Initialize();
        }
        public bool StartIo(Srb srb) => Inner.StartIo(srb);
        public bool ResetBus(byte pathId) => Inner.ResetBus(pathId);
        public ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported) => Inner.AdapterControl(type, supported);
        public void FreeAdapterResources() => Inner.FreeAdapterResources();
    }

    [Fact]
    public async Task Nine_buses_is_refused_with_the_storport_message()
    {
        var mp = new TestMiniport(buses: 9);
        var log = new EventLog();
        await using var port = new StoragePort(new PortOptions { EventLog = log });
        var ex = await Assert.ThrowsAsync<AdapterStartException>(() => port.AddAdapterAsync(TestMiniport.Register(mp)));
        Assert.Contains("trying to use more than 8 SCSI buses", ex.Message);
        Assert.Contains("asked for 9", ex.Message);
        Assert.Single(log.WithId(StorageEventIds.TooManyBuses));
        Assert.DoesNotContain("Initialize", mp.Calls);
        Assert.Empty(port.Adapters);
    }

    [Fact]
    public async Task A_higher_bus_limit_admits_nine_buses()
    {
        var mp = new TestMiniport(buses: 9);
        await using var port = new StoragePort(new PortOptions { MaximumBuses = 16 });
        var adapter = await port.AddAdapterAsync(TestMiniport.Register(mp));
        Assert.Equal(9, adapter.Configuration.NumberOfBuses);
    }

    [Fact]
    public async Task Zero_targets_is_a_clear_start_error()
    {
        await using var port = new StoragePort();
        var ex = await Assert.ThrowsAsync<AdapterStartException>(() => port.AddAdapterAsync(TestMiniport.Register(new TestMiniport(targets: 0))));
        Assert.Contains("MaximumNumberOfTargets = 0", ex.Message);
    }

    [Fact]
    public async Task Queue_depth_above_255_is_a_clear_start_error()
    {
        await using var port = new StoragePort();
        var ex = await Assert.ThrowsAsync<AdapterStartException>(() => port.AddAdapterAsync(TestMiniport.Register(new TestMiniport { QueueDepth = 256 })));
        Assert.Contains("DefaultQueueDepth = 256", ex.Message);
    }

    [Fact]
    public async Task Requests_to_missing_addresses_get_the_matching_status()
    {
        await using var f = await PortFixture.StartAsync();
        async Task<SrbStatus> Run(ScsiAddress a)
        {
            var srb = f.Read(a);
            await f.Adapter.ExecuteAsync(srb);
            var s = srb.Status;
            srb.Release();
            return s;
        }
        Assert.Equal(SrbStatus.InvalidPathId, await Run(new(3, 0, 0)));
        Assert.Equal(SrbStatus.InvalidTargetId, await Run(new(0, 5, 0)));
        Assert.Equal(SrbStatus.InvalidLun, await Run(new(0, 0, 9)));
        Assert.Equal(SrbStatus.NoDevice, await Run(new(0, 0, 2)));
    }

    [Fact]
    public async Task Transfers_beyond_the_maximum_are_invalid_requests()
    {
        await using var f = await PortFixture.StartAsync();
        int before = f.Miniport.StartIoCalls;
        var srb = f.Read();
        srb.Data.Rent(f.Adapter.Configuration.MaximumTransferLength);
        await f.Adapter.ExecuteAsync(srb);
        Assert.Equal(SrbStatus.InvalidRequest, srb.Status);
        Assert.Equal(before, f.Miniport.StartIoCalls); // never reached the miniport
        srb.Release();
    }

    [Fact]
    public async Task BuildIo_runs_before_StartIo_for_every_request()
    {
        await using var f = await PortFixture.StartAsync();
        int before = f.Miniport.BuildIoCalls;
        var srb = f.Read();
        await f.Adapter.ExecuteAsync(srb);
        Assert.Equal(before + 1, f.Miniport.BuildIoCalls);
        Assert.Equal(SrbStatus.Success, srb.Status);
        srb.Release();
    }

    [Fact]
    public async Task Stop_drains_outstanding_io_flushes_each_lu_then_stops_the_adapter()
    {
        var mp = new TestMiniport([new(0, 0, 0), new(0, 0, 1)]);
        var flushes = new List<ScsiAddress>();
        mp.OnIo = (srb, m) =>
        {
            if (srb.Function == SrbFunction.Flush) { lock (flushes) flushes.Add(srb.Address); m.Complete(srb, SrbStatus.Success); }
            else m.Hold(srb);
        };
        await using var f = await PortFixture.StartAsync(mp);
        var done = new Completions();
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        var stop = f.Adapter.StopAsync();
        await Task.Delay(50);
        Assert.False(stop.IsCompleted); // still draining
        Assert.Empty(flushes);
        mp.CompleteAllHeld();
        await stop;
        Assert.Equal([new ScsiAddress(0, 0, 0), new ScsiAddress(0, 0, 1)], flushes.OrderBy(a => a.Lun));
        Assert.Equal("StopAdapter", mp.Calls.Last());
        Assert.Equal(AdapterState.Stopped, f.Adapter.State);

        var late = f.Read();
        await f.Adapter.ExecuteAsync(late);
        Assert.Equal(SrbStatus.NoHba, late.Status);
        late.Release();
    }

    [Fact]
    public async Task Stopping_lifts_an_lu_pause_so_the_drain_and_the_flush_do_not_wait_for_it()
    {
        await using var f = await PortFixture.StartAsync();
        var lu = f.Adapter.LogicalUnits[0];
        f.Adapter.Services.PauseDevice(lu.Address, TimeSpan.FromHours(1));
        Assert.True(lu.IsPaused);
        await f.Adapter.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(AdapterState.Stopped, f.Adapter.State);
        Assert.False(lu.IsPaused);
    }

    [Fact]
    public async Task Restart_without_RestartAdapter_support_runs_FindAdapter_and_Initialize_again()
    {
        await using var f = await PortFixture.StartAsync();
        await f.Adapter.StopAsync();
        f.Miniport.Calls.Clear();
        await f.Adapter.RestartAsync();
        Assert.Equal(["FindAdapter", "Initialize", "QuerySupportedControlTypes"], f.Miniport.Calls.Take(3));
        Assert.Equal(AdapterState.Running, f.Adapter.State);
    }

    [Fact]
    public async Task Restart_with_RestartAdapter_support_uses_it()
    {
        await using var f = await PortFixture.StartAsync(new TestMiniport { SupportRestart = true });
        await f.Adapter.StopAsync();
        f.Miniport.Calls.Clear();
        await f.Adapter.RestartAsync();
        Assert.Equal("RestartAdapter", f.Miniport.Calls[0]);
        Assert.DoesNotContain("FindAdapter", f.Miniport.Calls);
    }

    [Fact]
    public async Task Removing_the_adapter_frees_its_resources()
    {
        var f = await PortFixture.StartAsync();
        await f.Port.RemoveAdapterAsync(f.Adapter);
        Assert.Equal("FreeAdapterResources", f.Miniport.Calls.Last());
        Assert.Equal(AdapterState.Removed, f.Adapter.State);
        Assert.Empty(f.Port.Adapters);
        await f.DisposeAsync();
    }

    [Fact]
    public async Task Bus_change_detected_enumerates_again_and_logs_added_and_removed_units()
    {
        await using var f = await PortFixture.StartAsync(new TestMiniport([new(0, 0, 0)]));
        f.Miniport.AddUnit(new(0, 0, 4));
        await f.Adapter.RescanAsync();
        Assert.NotNull(f.Adapter.GetLogicalUnit(new(0, 0, 4)));
        f.Miniport.RemoveUnit(new(0, 0, 4));
        f.Miniport.Port.BusChangeDetected(0);
        for (int i = 0; i < 200 && f.Adapter.GetLogicalUnit(new(0, 0, 4)) is not null; i++) await Task.Delay(10);
        Assert.Null(f.Adapter.GetLogicalUnit(new(0, 0, 4)));
        Assert.Single(f.Events(StorageEventIds.LunRemoved));
    }
}
