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
