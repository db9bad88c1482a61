using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class ResetAbortTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met");
            await Task.Delay(5);
        }
    }

    [Theory]
    [InlineData(SrbFunction.ResetLogicalUnit)]
    [InlineData(SrbFunction.ResetDevice)]
    [InlineData(SrbFunction.ResetBus)]
    public async Task Reset_completes_a_request_stuck_in_the_backend_with_bus_reset_and_never_twice(SrbFunction function)
    {
        var dev = new TestBlockDevice();
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        Cdbs.Pattern(512, 1).CopyTo(dev.Bytes);
        dev.HoldReads();
        var read = DiskHarness.Prepare(Cdbs.Read10(0, 1), 512);
        var readTask = h.Adapter.ExecuteAsync(read).AsTask();
        await dev.ReadStarted.Task.WaitAsync(Patience);
        Assert.Equal(1, h.Miniport.InFlightCount(DiskHarness.Lun0));

        var reset = SrbPool.Shared.Rent();
        reset.Function = function;
        reset.Address = DiskHarness.Lun0;
        await h.Adapter.ExecuteAsync(reset).AsTask().WaitAsync(Patience);
        Assert.Equal(SrbStatus.Success, reset.Status);
        reset.Release();

        await readTask.WaitAsync(Patience);
        Assert.Equal(SrbStatus.BusReset, read.Status);
        Assert.True(read.IsCompletedByPort);
        read.Release(); // the miniport still holds it: the port keeps it out of the pool

        dev.ReleaseReads();
        await WaitUntilAsync(() => h.Miniport.InFlightCount(DiskHarness.Lun0) == 0);
        Assert.Empty(h.ContractViolations);

        var after = await h.ExecAsync(Cdbs.Read10(0, 1), 512);
        Assert.Equal(SrbStatus.Success, after.Status);
        Assert.Equal(Cdbs.Pattern(512, 1), after.Data);
        Assert.Empty(h.ContractViolations);
    }

    [Fact]
    public async Task Abort_of_a_request_in_the_backend_completes_after_the_backend_with_aborted()
    {
        var dev = new TestBlockDevice();
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        dev.HoldReads();
        var read = DiskHarness.Prepare(Cdbs.Read10(0, 1), 512);
        var readTask = h.Adapter.ExecuteAsync(read).AsTask();
        await dev.ReadStarted.Task.WaitAsync(Patience);

        var abort = SrbPool.Shared.Rent();
        abort.Function = SrbFunction.AbortCommand;
        abort.Address = DiskHarness.Lun0;
        abort.AbortTarget = read;
        var abortTask = h.Adapter.ExecuteAsync(abort).AsTask();
        await Task.Delay(50);
        Assert.False(abortTask.IsCompleted, "FUNCTION COMPLETE before the task left the backend");
        Assert.False(readTask.IsCompleted);

        dev.ReleaseReads();
        await abortTask.WaitAsync(Patience);
        await readTask.WaitAsync(Patience);
        Assert.Equal(SrbStatus.Aborted, read.Status);
        Assert.Equal(0, read.DataTransferLength);
        Assert.Equal(SrbStatus.Success, abort.Status);
        read.Release();
        abort.Release();
        Assert.Equal(0, h.Miniport.InFlightCount(DiskHarness.Lun0));
        Assert.Empty(h.ContractViolations);
    }

    [Fact]
    public async Task Reset_also_ends_an_abort_waiting_on_a_stuck_task()
    {
        var dev = new TestBlockDevice();
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        dev.HoldReads();
        var read = DiskHarness.Prepare(Cdbs.Read10(0, 1), 512);
        var readTask = h.Adapter.ExecuteAsync(read).AsTask();
        await dev.ReadStarted.Task.WaitAsync(Patience);
        var abort = SrbPool.Shared.Rent();
        abort.Function = SrbFunction.AbortCommand;
        abort.Address = DiskHarness.Lun0;
        abort.AbortTarget = read;
        var abortTask = h.Adapter.ExecuteAsync(abort).AsTask();

        var reset = SrbPool.Shared.Rent();
        reset.Function = SrbFunction.ResetLogicalUnit;
        reset.Address = DiskHarness.Lun0;
        await h.Adapter.ExecuteAsync(reset).AsTask().WaitAsync(Patience);
        await abortTask.WaitAsync(Patience);
        await readTask.WaitAsync(Patience);
        Assert.Equal(SrbStatus.Success, abort.Status);
        Assert.Equal(SrbStatus.BusReset, read.Status);
        dev.ReleaseReads();
        await WaitUntilAsync(() => h.Miniport.InFlightCount(DiskHarness.Lun0) == 0);
        Assert.Empty(h.ContractViolations);
        read.Release();
        abort.Release();
        reset.Release();
    }

    [Fact]
    public async Task Abort_of_a_finished_request_succeeds()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var read = DiskHarness.Prepare(Cdbs.Read10(0, 1), 512);
        await h.Adapter.ExecuteAsync(read);
        var abort = SrbPool.Shared.Rent();
        abort.Function = SrbFunction.AbortCommand;
        abort.Address = DiskHarness.Lun0;
        abort.AbortTarget = read;
        await h.Adapter.ExecuteAsync(abort);
        Assert.Equal(SrbStatus.Success, abort.Status);
        Assert.Equal(SrbStatus.Success, read.Status);
        abort.Release();
        read.Release();
    }

    [Fact]
    public async Task Many_concurrent_requests_through_an_async_backend_all_complete_once()
    {
        var dev = new TestBlockDevice();
        var (h, _) = await DiskHarness.SingleAsync(dev);
        await using var _h = h;
        dev.HoldReads();
        var srbs = Enumerable.Range(0, 40).Select(i => DiskHarness.Prepare(Cdbs.Read10((uint)i, 1), 512)).ToArray();
        var tasks = srbs.Select(s => h.Adapter.ExecuteAsync(s).AsTask()).ToArray();
        await WaitUntilAsync(() => h.Miniport.InFlightCount(DiskHarness.Lun0) == 40);
        dev.ReleaseReads();
        await Task.WhenAll(tasks).WaitAsync(Patience);
        Assert.All(srbs, s => Assert.Equal(SrbStatus.Success, s.Status));
        foreach (var s in srbs) s.Release();
        Assert.Equal(0, h.Miniport.InFlightCount(DiskHarness.Lun0));
        Assert.Empty(h.ContractViolations);
    }
}
