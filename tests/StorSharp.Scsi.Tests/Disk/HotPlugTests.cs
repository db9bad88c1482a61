using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

/// <summary>
/// LUs added, removed and resized at run time: the SCSI disk miniport changes its unit table and
/// calls BusChangeDetected; the port enumerates again, starts or removes the LU (orderly drain or
/// surprise removal) and logs 1030 / 1031; the unit attentions SAM-5 asks for reach every nexus.
/// </summary>
public class HotPlugTests
{
    private static readonly ScsiAddress Lun1 = new(0, 0, 1);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static ScsiDiskDefinition Disk(ScsiAddress address, IBlockDevice device) => new(address, device) { ProductId = "Hot " + address.Lun };

    /// <summary>Room for LUNs added at run time, as the host asks for.</summary>
    private static readonly ScsiDiskMiniportOptions Room = new() { MaximumNumberOfLogicalUnits = 8 };

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true in time");
            await Task.Delay(5);
        }
    }

    /// <summary>A harness with LUN 0 and LUN 1 (whose reads can be held), LUN 1 at queue depth 1, and three reads sent to LUN 1: one outstanding in the miniport, two queued in the port.</summary>
    private static async Task<(DiskHarness H, TestBlockDevice Held, LogicalUnit Lu, Srb[] Reads, Task[] Done)> ThreeReadsHeldAsync()
    {
        var held = new TestBlockDevice();
        var h = await DiskHarness.CreateAsync(Room, Disk(DiskHarness.Lun0, new TestBlockDevice()), Disk(Lun1, held));
        Assert.True(h.Adapter.Services.SetDeviceQueueDepth(Lun1, 1));
        held.HoldReads();
        var reads = Enumerable.Range(0, 3).Select(_ => DiskHarness.Prepare(Cdbs.Read10(0, 1), 512, address: Lun1)).ToArray();
        var done = reads.Select(s => h.Adapter.ExecuteAsync(s).AsTask()).ToArray();
        await held.ReadStarted.Task.WaitAsync(Bound);
        var lu = h.Adapter.GetLogicalUnit(Lun1)!;
        Assert.Equal(1, lu.OutstandingCount);
        Assert.Equal(2, lu.PendingCount);
        return (h, held, lu, reads, done);
    }

    [Fact]
    public async Task An_added_unit_is_enumerated_started_and_logged_and_the_target_mates_get_reported_luns_data_has_changed()
    {
        await using var h = await DiskHarness.CreateAsync(Room, Disk(DiskHarness.Lun0, new TestBlockDevice()));
        var n = new InitiatorNexus("iqn.hp", "t");
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.PowerOnReset);

        h.Miniport.AddUnit(Disk(Lun1, new TestBlockDevice()));
        await h.Adapter.RescanAsync().WaitAsync(Bound);

        var lu = h.Adapter.GetLogicalUnit(Lun1);
        Assert.NotNull(lu);
        Assert.Equal("Hot 1", lu.Identity!.ProductId);
        var added = Assert.Single(h.Port.Events.WithId(StorageEventIds.LunAdded), e => e.Data["Address"] == "0:0:1");
        Assert.Equal("Hot 1", added.Data["ProductId"]);
        var luns = await h.ExecAsync(Cdbs.ReportLuns(), 512);
        Assert.Equal(16, BinaryPrimitives.ReadInt32BigEndian(luns.Data));
        Assert.Equal(1, luns.Data[8 + 8 + 1]);
        // SPC-4 §6.33 / SAM-5 §5.14: the others of the target learn the inventory changed; the new LU greets the nexus with POWER ON.
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.ReportedLunsDataHasChanged);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: n)).AssertGood();
        (await h.ExecAsync(Cdbs.TestUnitReady(), address: Lun1, nexus: n)).AssertCheckCondition(SenseCodes.PowerOnReset);
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512, address: Lun1, nexus: n)).AssertGood();
        Assert.Empty(h.ContractViolations);
    }

    [Fact]
    public async Task Adding_at_a_used_address_and_removing_an_unknown_one_are_refused_without_a_change()
    {
        await using var h = await DiskHarness.CreateAsync(Disk(DiskHarness.Lun0, new TestBlockDevice()));
        Assert.Throws<ArgumentException>(() => h.Miniport.AddUnit(Disk(DiskHarness.Lun0, new TestBlockDevice())));
        Assert.Throws<ArgumentException>(() => h.Miniport.AddUnit(Disk(new ScsiAddress(0, 0, 255), new TestBlockDevice())));
        // Without room (the options' maximums) the port would never enumerate it.
        Assert.Contains("MaximumNumberOfLogicalUnits", Assert.Throws<ArgumentException>(() => h.Miniport.AddUnit(Disk(Lun1, new TestBlockDevice()))).Message);
        Assert.Throws<ArgumentException>(() => h.Miniport.RemoveUnit(Lun1, surprise: false));
        Assert.Throws<ArgumentException>(() => h.Miniport.OnCapacityChanged(Lun1));
        await h.Adapter.RescanAsync().WaitAsync(Bound);
        Assert.Single(h.Adapter.LogicalUnits);
        Assert.Single(h.Miniport.Disks);
        Assert.Empty(h.Port.Events.WithId(StorageEventIds.LunRemoved));
    }

    [Fact]
    public async Task An_orderly_removal_refuses_new_requests_drains_every_accepted_one_then_removes_the_unit()
    {
        var (h, held, lu, reads, done) = await ThreeReadsHeldAsync();
        await using var _h = h;
        var n = new InitiatorNexus("iqn.hp2", "t");
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.PowerOnReset);

        h.Miniport.RemoveUnit(Lun1, surprise: false);
        var rescan = h.Adapter.RescanAsync();
        await WaitUntil(() => lu.IsRemoving);

        var refused = await h.ExecAsync(Cdbs.Read10(0, 1), 512, address: Lun1);
        Assert.Equal(SrbStatus.NoDevice, refused.Status);
        await Task.Delay(50);
        Assert.False(rescan.IsCompleted, "the removal finished while requests were still outstanding");
        Assert.All(done, t => Assert.False(t.IsCompleted));
        Assert.Empty(h.Port.Events.WithId(StorageEventIds.LunRemoved));

        held.ReleaseReads();
        await rescan.WaitAsync(Bound);
        await Task.WhenAll(done).WaitAsync(Bound);
        foreach (var srb in reads) DiskHarness.Collect(srb).AssertGood();
        Assert.Null(h.Adapter.GetLogicalUnit(Lun1));
        Assert.True(lu.IsRemoved);
        Assert.Equal(0, lu.PendingCount + lu.OutstandingCount);
        var removed = Assert.Single(h.Port.Events.WithId(StorageEventIds.LunRemoved));
        Assert.Equal(("0:0:1", "orderly", "3", "0"), (removed.Data["Address"], removed.Data["Removal"], removed.Data["Drained"], removed.Data["Failed"]));
        Assert.DoesNotContain(h.Miniport.Disks, d => d.Address == Lun1);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.ReportedLunsDataHasChanged);
        Assert.Equal(SrbStatus.NoDevice, (await h.ExecAsync(Cdbs.TestUnitReady(), address: Lun1)).Status);
        Assert.Empty(h.ContractViolations);
    }

    [Fact]
    public async Task A_surprise_removal_fails_the_queued_and_outstanding_requests_at_once_and_drops_the_late_completion()
    {
        var (h, held, lu, reads, done) = await ThreeReadsHeldAsync();
        await using var _h = h;

        h.Miniport.RemoveUnit(Lun1, surprise: true);
        await h.Adapter.RescanAsync().WaitAsync(Bound);

        // Nothing waited for the held read: every request is back, failed with NO_DEVICE by the port.
        await Task.WhenAll(done).WaitAsync(Bound);
        foreach (var srb in reads)
        {
            Assert.Equal(SrbStatus.NoDevice, srb.Status);
            Assert.True(srb.IsCompletedByPort);
        }
        Assert.Null(h.Adapter.GetLogicalUnit(Lun1));
        Assert.True(lu.IsRemoved);
        var removed = Assert.Single(h.Port.Events.WithId(StorageEventIds.LunRemoved));
        Assert.Equal(("surprise", "0", "3"), (removed.Data["Removal"], removed.Data["Drained"], removed.Data["Failed"]));
        Assert.Equal(SrbStatus.NoDevice, (await h.ExecAsync(Cdbs.Read10(0, 1), 512, address: Lun1)).Status);

        // The backend finishes the read it had: the miniport's late completion is dropped quietly.
        held.ReleaseReads();
        await WaitUntil(() => held.ReadCount == 1);
        await Task.Delay(50);
        foreach (var srb in reads) srb.Release();
        Assert.Equal(1, held.ReadCount); // the queued reads never reached the backend
        Assert.Empty(h.ContractViolations);
        (await h.ExecAsync(Cdbs.Read10(0, 1), 512)).AssertGood(); // LUN 0 is untouched
    }

    [Fact]
    public async Task A_capacity_change_gives_every_nexus_capacity_data_has_changed_and_read_capacity_the_new_size()
    {
        var ram = new RamBlockDevice(1 << 20);
        await using var h = await DiskHarness.CreateAsync(Disk(DiskHarness.Lun0, ram));
        var a = new InitiatorNexus("iqn.a", "t");
        var b = new InitiatorNexus("iqn.b", "t");
        foreach (var n in new[] { a, b }) (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.PowerOnReset);

        await ram.GrowAsync(4096);
        h.Miniport.OnCapacityChanged(DiskHarness.Lun0);

        foreach (var n in new[] { a, b })
        {
            (await h.ExecAsync(Cdbs.Read10(0, 1), 512, nexus: n)).AssertCheckCondition(SenseCodes.CapacityDataHasChanged);
            var capacity = await h.ExecAsync(Cdbs.ReadCapacity16(), 32, nexus: n);
            capacity.AssertGood();
            Assert.Equal(4095, BinaryPrimitives.ReadInt64BigEndian(capacity.Data));
        }
        (await h.ExecAsync(Cdbs.Write10(4095, 1), dataOut: new byte[512], nexus: a)).AssertGood();
    }
}
