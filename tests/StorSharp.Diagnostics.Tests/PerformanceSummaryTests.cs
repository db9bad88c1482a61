using System.Diagnostics.Tracing;
using StorSharp.Port;
using PortLevel = StorSharp.Port.EventLevel;

namespace StorSharp.Diagnostics.Tests;

/// <summary>The per-LU performance summary (event 505), the first-error record (549), and the EventSource.</summary>
public sealed class PerformanceSummaryTests
{
    [Fact]
    public async Task Latencies_land_in_the_505_buckets_with_bytes_maximums_and_queue_time()
    {
        await using var h = await PortHarness.StartAsync();
        h.Port.PerformanceSummaries(reset: true);
        h.Miniport.OnIo = (srb, mp) => mp.Hold(srb);
        // 4 reads of 4 KiB served in 3 ms (bucket <= 4ms), 2 writes of 512 bytes served in 100 ms (<= 128ms).
        for (uint t = 0; t < 4; t++) h.Receive(h.Request(t));
        h.Advance(3);
        Assert.Equal(4, h.Miniport.CompleteAllHeld());
        for (uint t = 10; t < 12; t++) h.Receive(h.Request(t, write: true, blocks: 1));
        h.Advance(100);
        Assert.Equal(2, h.Miniport.CompleteAllHeld());
        // One read that fails with CHECK CONDITION / MEDIUM ERROR after 600 ms (<= 2000ms).
        h.Miniport.OnIo = (srb, mp) => mp.Hold(srb);
        h.Receive(h.Request(20));
        h.Advance(600);
        Assert.True(h.Miniport.Held.TryDequeue(out var failing));
        failing.SetSenseData([0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00, 0, 0, 0, 0]);
        h.Miniport.Complete(failing, SrbStatus.Error, ScsiStatus.CheckCondition);

        var s = h.Port.PerformanceSummaries().Single(p => p.Address == PortHarness.Lu0);
        int i4ms = LatencyBuckets.Labels.ToList().IndexOf("4ms"), i128 = LatencyBuckets.Labels.ToList().IndexOf("128ms"), i2s = LatencyBuckets.Labels.ToList().IndexOf("2000ms");
        Assert.Equal(4, s.SuccessCounts[i4ms]);
        Assert.Equal(2, s.SuccessCounts[i128]);
        Assert.Equal(1, s.FailureCounts[i2s]);
        Assert.Equal(7, s.TotalIo);
        Assert.Equal(4 * 3_000, s.TotalLatencyMicroseconds[i4ms]);
        Assert.Equal(2 * 100_000, s.TotalLatencyMicroseconds[i128]);
        Assert.Equal(4 * 4096, s.BytesRead);
        Assert.Equal(2 * 512, s.BytesWritten);
        Assert.Equal(600_000, s.MaxReadLatencyMicroseconds);
        Assert.Equal(100_000, s.MaxWriteLatencyMicroseconds);
        Assert.Equal(4, s.MaxOutstanding);
        var e = Assert.IsType<FirstErrorRecord>(s.FirstError);
        Assert.Equal(0x28, e.OperationCode);
        Assert.Equal(SrbStatus.Error, e.SrbStatus);
        Assert.Equal(ScsiStatus.CheckCondition, e.ScsiStatus);
        Assert.Equal((3, 0x11, 0x00), (e.SenseKey, e.AdditionalSenseCode, e.AdditionalSenseCodeQualifier));
        Assert.Equal(600_000, e.LatencyMicroseconds);
        Assert.Equal(0, h.Port.PerformanceSummaries().Single(p => p.Address == PortHarness.Lu1).TotalIo);
    }

    [Fact]
    public async Task Busy_and_paused_time_are_counted()
    {
        await using var h = await PortHarness.StartAsync();
        h.Port.PerformanceSummaries(reset: true);
        bool answered = false;
        h.Miniport.OnIo = (srb, mp) =>
        {
            if (!answered) { answered = true; mp.Complete(srb, SrbStatus.Busy); return; }
            mp.Complete(srb, SrbStatus.Success);
        };
        h.Receive(h.Request(1));
        for (int i = 0; i < 4 && h.Answered.Count == 0; i++) h.Advance(250);
        Assert.Single(h.Answered);
        h.Miniport.Port.PauseDevice(PortHarness.Lu0, TimeSpan.FromSeconds(10));
        h.Receive(h.Request(2));
        h.Advance(700);
        h.Miniport.Port.ResumeDevice(PortHarness.Lu0);
        Assert.Equal(2, h.Answered.Count);
        var s = h.Port.PerformanceSummaries().Single(p => p.Address == PortHarness.Lu0);
        Assert.Equal(1, s.BusyCount);
        Assert.InRange(s.BusyMicroseconds, 250_000, 500_000);
        Assert.Equal(700_000, s.PausedMicroseconds);
        Assert.Equal(700_000, s.QueuedMicroseconds); // request 2 waited out the pause in the queue
    }

    [Fact]
    public async Task Summaries_go_to_the_event_log_as_505_and_549_on_a_timer_and_start_a_new_interval()
    {
        await using var h = await PortHarness.StartAsync(summaryInterval: TimeSpan.FromSeconds(60));
        h.Port.PerformanceSummaries(reset: true);
        h.Receive(h.Request(1));
        h.Miniport.OnIo = (srb, mp) => mp.Complete(srb, SrbStatus.Error, ScsiStatus.CheckCondition);
        h.Receive(h.Request(2));
        h.Advance(60_000);
        var summary = Assert.Single(h.Port.Events.WithId(StorageEventIds.PerformanceSummary));
        Assert.Equal("0:0:0", $"{summary.Data["Path"]}:{summary.Data["Target"]}:{summary.Data["Lun"]}");
        Assert.Equal("2", summary.Data["TotalIo"]);
        Assert.Equal(string.Join(", ", LatencyBuckets.Labels), summary.Data["LatencyBuckets"]);
        Assert.Equal("1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0", summary.Data["SuccessCounts"]);
        Assert.Equal("1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0", summary.Data["FailureCounts"]);
        Assert.Contains("Performance summary for Storport device (Port = 0, Path = 0, Target = 0, Lun = 0)", summary.Message);
        var first = Assert.Single(h.Port.Events.WithId(StorageEventIds.FirstError));
        Assert.Equal(PortLevel.Warning, first.Level);
        Assert.Equal("0x28", first.Data["Opcode"]);
        Assert.Equal("CheckCondition", first.Data["ScsiStatus"]);
        // Idle LUs (LU 1) wrote nothing; the next interval starts empty and writes nothing either.
        h.Advance(60_000);
        Assert.Single(h.Port.Events.WithId(StorageEventIds.PerformanceSummary));
        Assert.Equal(0, h.Port.PerformanceSummaries().Sum(p => p.TotalIo));
        // On demand, idle LUs too.
        Assert.Equal(2, h.Port.WritePerformanceSummaries().Count);
    }

    private sealed class Listener : EventListener
    {
        public readonly List<EventWrittenEventArgs> Events = [];
        private readonly EventKeywords _keywords;
        public Listener(EventKeywords keywords) { _keywords = keywords; EnableNow(); }
        private void EnableNow()
        {
            foreach (var source in EventSource.GetSources())
                if (source.Name == "StorSharp-Port") EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, _keywords);
        }
        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "StorSharp-Port" && _keywords != 0) EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, _keywords);
        }
        protected override void OnEventWritten(EventWrittenEventArgs e) { lock (Events) Events.Add(e); }
    }

    [Fact]
    public async Task The_event_source_reports_each_stage_of_a_request_in_order()
    {
        await using var h = await PortHarness.StartAsync();
        using var listener = new Listener(PortEventSource.Keywords.IO | PortEventSource.Keywords.Errors | PortEventSource.Keywords.Performance);
        h.Miniport.OnIo = (srb, mp) => mp.Hold(srb);
        h.Receive(h.Request(0xABCD, address: PortHarness.Lu1));
        h.Advance(2);
        h.Miniport.CompleteAllHeld();
        List<EventWrittenEventArgs> mine;
        lock (listener.Events) mine = [.. listener.Events.Where(e => e.EventId is >= 1 and <= 6 && (long)e.Payload![1]! == 0xABCD)];
        Assert.Equal([PortEventSource.Ids.Received, PortEventSource.Ids.Queued, PortEventSource.Ids.Started, PortEventSource.Ids.Completed, PortEventSource.Ids.ReplySent],
            mine.Select(e => e.EventId));
        Assert.All(mine, e => Assert.Equal(PortEventSource.PackAddress(0, PortHarness.Lu1), (long)e.Payload![0]!));
        var completed = mine.Single(e => e.EventId == PortEventSource.Ids.Completed);
        Assert.Equal("LatencyMicroseconds", completed.PayloadNames![6]);
        Assert.Equal(2000L, completed.Payload![6]);
        Assert.Equal(4096L, completed.Payload![5]);
        // Event-log entries are mirrored with the Errors keyword.
        h.Miniport.Port.LinkDown();
        lock (listener.Events) Assert.Contains(listener.Events, e => e.EventId == PortEventSource.Ids.PortEvent && (int)e.Payload![0]! == StorageEventIds.LinkDown);
        h.Miniport.Port.LinkUp();
    }
}
