using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Port.Tests.Class;

public class ClassRetryTests
{
    [Fact]
    public async Task A_miniport_timeout_logs_event_153_and_is_retried_one_second_later()
    {
        int attempts = 0;
        var mp = new TestMiniport { OnIo = (srb, m) => m.Complete(srb, ++attempts == 1 ? SrbStatus.Timeout : SrbStatus.Success) };
        await using var f = await PortFixture.StartAsync(mp);
        var done = new Completions(f.Clock);
        var srb = f.Read(handler: done);
        srb.Cdb[2] = 0x01; // LBA 0x01000000
        ClassRetry.Submit(f.Adapter, srb);
        Assert.Equal(0, done.Count);
        var e153 = Assert.Single(f.Events(StorageEventIds.IoRetried));
        Assert.Equal("disk", e153.Source);
        Assert.Equal("0x09", e153.Data["SrbStatus"]);
        Assert.Equal("0x00", e153.Data["ScsiStatus"]);
        Assert.Equal("0x28", e153.Data["Opcode"]);
        Assert.Equal("16777216", e153.Data["Lba"]);
        f.Advance(750);
        Assert.Equal(1, attempts);
        f.Advance(250);
        Assert.Equal(2, attempts);
        Assert.Equal(SrbStatus.Success, Assert.Single(done.All).Status);
        Assert.Equal(TimeSpan.FromSeconds(1), done.At[0]);
        Assert.Equal(4096, srb.DataTransferLength);
        Assert.Empty(f.Events(StorageEventIds.ResetToDevice)); // 153, not 129
        srb.Release();
    }

    [Fact]
    public async Task After_four_retries_the_request_fails_with_the_miniport_status()
    {
        int attempts = 0;
        var mp = new TestMiniport { OnIo = (srb, m) => { attempts++; m.Complete(srb, SrbStatus.CommandTimeout); } };
        await using var f = await PortFixture.StartAsync(mp);
        var done = new Completions();
        var srb = f.Read(handler: done);
        ClassRetry.Submit(f.Adapter, srb);
        f.Clock.AdvanceInSteps(TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(250));
        Assert.Equal(5, attempts);
        Assert.Equal(4, f.Events(StorageEventIds.IoRetried).Count);
        Assert.Single(f.Events(StorageEventIds.ControllerError));
        Assert.Equal(SrbStatus.CommandTimeout, Assert.Single(done.All).Status);
        srb.Release();
    }

    [Fact]
    public async Task Requests_failed_by_the_ports_own_reset_are_not_retried_by_the_class_layer()
    {
        var mp = new TestMiniport { OnIo = static (srb, m) => m.Hold(srb) };
        await using var f = await PortFixture.StartAsync(mp);
        var srb = f.Read(timeout: 2);
        var task = ClassRetry.ExecuteAsync(f.Adapter, srb);
        f.Advance(2_000);
        await task;
        Assert.Equal(SrbStatus.BusReset, srb.Status);
        Assert.Single(f.Events(StorageEventIds.ResetToDevice));
        Assert.Empty(f.Events(StorageEventIds.IoRetried));
        srb.Release();
    }

    [Fact]
    public async Task Not_ready_logs_event_15_at_most_once_per_lu_per_ten_seconds_and_never_for_a_missing_medium()
    {
        // Fixed-format sense: NOT READY, LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED (04/02).
        byte[] notReady = [0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x02, 0, 0, 0, 0];
        // Descriptor-format sense: NOT READY, MEDIUM NOT PRESENT (3A/00): an empty drive, not an event.
        byte[] noMedium = [0x72, 0x02, 0x3A, 0x00, 0, 0, 0, 0];
        byte[] sense = notReady;
        var mp = new TestMiniport
        {
            OnIo = (srb, m) =>
            {
                srb.SetSenseData(sense);
                m.Complete(srb, SrbStatus.Error, ScsiStatus.CheckCondition);
            },
        };
        await using var f = await PortFixture.StartAsync(mp);
        for (int i = 0; i < 3; i++)
        {
            var srb = f.Read();
            await ClassRetry.ExecuteAsync(f.Adapter, srb);
            Assert.Equal(ScsiStatus.CheckCondition, srb.ScsiStatus); // handed back, not retried by the class layer
            srb.Release();
        }
        var e15 = Assert.Single(f.Events(StorageEventIds.DeviceNotReady));
        Assert.Contains("is not ready for access yet (sense 02/04/02)", e15.Message);
        Assert.Equal("0x28", e15.Data["Opcode"]);
        Assert.Empty(f.Events(StorageEventIds.IoRetried));

        f.Advance(10_000);
        var again = f.Read();
        await ClassRetry.ExecuteAsync(f.Adapter, again);
        again.Release();
        Assert.Equal(2, f.Events(StorageEventIds.DeviceNotReady).Count);

        sense = noMedium;
        f.Advance(10_000);
        var empty = f.Read();
        await ClassRetry.ExecuteAsync(f.Adapter, empty);
        empty.Release();
        Assert.Equal(2, f.Events(StorageEventIds.DeviceNotReady).Count);
    }

    [Theory]
    [InlineData(new byte[] { 0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x1B }, true)]  // fixed, sanitize in progress
    [InlineData(new byte[] { 0x72, 0x02, 0x04, 0x00 }, true)]                                  // descriptor, not ready
    [InlineData(new byte[] { 0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x3A, 0x01 }, false)] // medium not present
    [InlineData(new byte[] { 0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00 }, false)] // medium error
    [InlineData(new byte[] { 0x00, 0x02 }, false)]                                             // not sense data
    public void Device_not_ready_is_read_from_both_sense_formats(byte[] sense, bool expected) =>
        Assert.Equal(expected, ClassRetry.IsDeviceNotReady(sense));

    [Theory]
    [InlineData(new byte[] { 0x08, 0x1F, 0xFF, 0xFE, 1, 0 }, 0x1FFFFEUL)]
    [InlineData(new byte[] { 0x2A, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 1, 0 }, 0x12345678UL)]
    [InlineData(new byte[] { 0x88, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0, 0 }, 0x0102030405060708UL)]
    [InlineData(new byte[] { 0xA8, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0 }, 9UL)]
    public void Lba_is_read_from_every_cdb_group(byte[] cdb, ulong expected)
    {
        Assert.True(ClassRetry.TryGetLba(cdb, out var lba));
        Assert.Equal(expected, lba);
    }
}
