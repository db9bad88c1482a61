using StorSharp.Diagnostics.Reporting;
using StorSharp.Diagnostics.Tracing;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Tests;

/// <summary>
/// The bar: record a trace of a run with injected faults (slow requests, BUSY answers, a
/// stall that times out into event 129 and an LU reset, a link down and up, a slow wire, a dropped
/// connection) and check the report against what the run did.
/// </summary>
public sealed class TraceBarTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("storsharp-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const long Ms = 10_000; // 100 ns units per millisecond

    [Fact]
    public async Task A_faulty_run_is_fully_accounted_for_in_the_trace_and_its_report()
    {
        await using var h = await PortHarness.StartAsync();
        var busyOnce = new HashSet<ulong>();
        var slow = new HashSet<ulong>();
        h.Miniport.OnIo = (srb, mp) =>
        {
            ulong tag = srb.RequestId;
            if (tag is >= 200 and < 300 && busyOnce.Add(tag)) { mp.Complete(srb, SrbStatus.Busy); return; }
            if (tag is < 100 or 300) { mp.Hold(srb); return; } // slow reads, and the stall
            mp.Complete(srb, SrbStatus.Success);
        };
        h.Port.PerformanceSummaries(reset: true); // enumeration's requests are not part of the run
        string path = Path.Combine(_dir, "run.sstrace");
        var recorder = new TraceRecorder(h.Port, path);
        var received = new Dictionary<uint, TimeSpan>();
        void Receive(Srb srb) { received[(uint)srb.RequestId] = h.Clock.Elapsed; h.Receive(srb); }

        // 10 fast writes on LU 1, answered at once.
        for (uint t = 100; t < 110; t++) Receive(h.Request(t, write: true, address: PortHarness.Lu1));
        // 10 reads on LU 0 the backend takes 5 ms to answer.
        for (uint t = 0; t < 10; t++) Receive(h.Request(t));
        h.Advance(5);
        Assert.Equal(10, h.Miniport.CompleteAllHeld());
        // 3 reads answered BUSY once each: they wait out the busy pause in the port's queue.
        for (uint t = 200; t < 203; t++) Receive(h.Request(t));
        for (int i = 0; i < 12 && h.Answered.Count < 23; i++) h.Advance(250);
        Assert.Equal(23, h.Answered.Count);
        // A read that never comes back: the LU timer (2 s) expires, event 129, LU reset.
        var stallAt = h.Clock.Elapsed;
        Receive(h.Request(300));
        for (int i = 0; i < 16 && h.Answered.Count < 24; i++) h.Advance(250);
        Assert.Equal(24, h.Answered.Count);
        // The link goes down for exactly one second with three writes waiting.
        h.Miniport.Port.LinkDown();
        var linkDownAt = h.Clock.Elapsed;
        for (uint t = 400; t < 403; t++) Receive(h.Request(t, write: true, address: PortHarness.Lu1));
        h.Advance(1000);
        h.Miniport.Port.LinkUp();
        Assert.Equal(27, h.Answered.Count);
        // A slow wire: five replies wait 20 ms in the send queue.
        h.DeferReplies = true;
        for (uint t = 500; t < 505; t++) Receive(h.Request(t, address: PortHarness.Lu1));
        h.Advance(20);
        Assert.Equal(5, h.SendReplies());
        // A connection that closes with two requests answered by the port but not sent.
        for (uint t = 600; t < 602; t++) Receive(h.Request(t, address: PortHarness.Lu1));
        Assert.Equal(2, h.DropReplies());
        var answeredAt = h.Clock.Elapsed;
        var portSummaries = h.Port.PerformanceSummaries();
        await recorder.DisposeAsync();

        var trace = TraceReader.Read(path);
        var analysis = TraceAnalysis.Analyse(trace);

        // Every request accounted for: each tag exactly once, nothing dropped.
        Assert.Equal(0, trace.DroppedRequests);
        Assert.False(trace.Truncated);
        Assert.Equal(received.Keys.Order(), trace.Requests.Select(r => r.Tag).Order());
        Assert.Equal(34, analysis.Requests);
        var byTag = trace.Requests.ToDictionary(r => r.Tag);

        // Stage times add up to the total, and the total is what the front end saw.
        foreach (var r in trace.Requests)
        {
            Assert.Equal(r.Total, (long)r.FrontEnd + r.Queue + r.Service + r.Completion + r.Reply);
            Assert.Equal(received[r.Tag].Ticks, r.Received); // the manual clock's ticks are 100 ns
        }
        foreach (var t in new uint[] { 0, 5, 9 }) { Assert.Equal(5 * Ms, byTag[t].Service); Assert.Equal(5 * Ms, byTag[t].Total); }
        foreach (var t in new uint[] { 100, 109 }) Assert.Equal(0, byTag[t].Total);
        foreach (var t in new uint[] { 200, 201, 202 })
        {
            Assert.Equal(1, byTag[t].BusyRetries);
            Assert.True(byTag[t].Queue >= 250 * Ms, $"tag {t} queued {byTag[t].Queue / Ms} ms");
            Assert.True(byTag[t].IsSuccess);
        }
        var stall = byTag[300];
        Assert.False(stall.IsSuccess);
        Assert.True(stall.Service >= 2000 * Ms && stall.Service <= 2500 * Ms, $"stall served {stall.Service / Ms} ms");
        foreach (var t in new uint[] { 400, 401, 402 }) { Assert.Equal(1000 * Ms, byTag[t].Queue); Assert.Equal(1000 * Ms, byTag[t].Total); }
        foreach (var t in new uint[] { 500, 504 }) { Assert.Equal(20 * Ms, byTag[t].Reply); Assert.Equal(20 * Ms, byTag[t].Total); }
        foreach (var t in new uint[] { 600, 601 }) Assert.NotEqual(0, byTag[t].Flags & TraceFormat.FlagNoReply);
        Assert.Equal(stall, analysis.Slowest[0]);

        // Fault events on the timeline, at the time they happened.
        var timeout = Assert.Single(trace.Events, e => e.Id == StorageEventIds.ResetToDevice);
        Assert.InRange(timeout.Time, (stallAt + TimeSpan.FromSeconds(2)).Ticks, (stallAt + TimeSpan.FromSeconds(2.5)).Ticks);
        Assert.Contains(trace.Events, e => e.Id == StorageEventIds.LunReset);
        Assert.Equal(linkDownAt.Ticks, Assert.Single(trace.Events, e => e.Id == StorageEventIds.LinkDown).Time);
        Assert.Equal((linkDownAt + TimeSpan.FromSeconds(1)).Ticks, Assert.Single(trace.Events, e => e.Id == StorageEventIds.LinkUp).Time);
        Assert.Equal(3, trace.Busy.Count);
        Assert.Equal(3, analysis.Timeline.Sum(p => p.Busy));

        // Histogram counts equal the request count, and match the port's own 505 counters bucket for bucket.
        Assert.Equal(34, analysis.Units.Sum(u => u.SuccessCounts.Sum() + u.FailureCounts.Sum()));
        Assert.Equal(34, analysis.Timeline.Sum(p => p.Requests));
        foreach (var u in analysis.Units)
        {
            var port = Assert.Single(portSummaries, s => s.Address == u.Address);
            Assert.Equal(port.SuccessCounts, u.SuccessCounts);
            Assert.Equal(port.FailureCounts, u.FailureCounts);
        }
        Assert.Equal(1, analysis.Failed);
        Assert.Equal((answeredAt.Ticks) / 1e7, analysis.DurationSeconds, 3);

        // The reports show it.
        var text = new StringWriter();
        TextReport.Write(analysis, text);
        Assert.Contains("requests 34 (1 failed)", text.ToString());
        Assert.Contains("129", text.ToString());
        var html = new StringWriter();
        HtmlReport.Write(analysis, html, "run.sstrace");
        string page = html.ToString();
        Assert.Contains("<svg", page);
        Assert.Contains("event 129:", page);  // a marker on the timelines
        Assert.Contains("event 1020:", page); // link down
        Assert.Contains("BUSY / QUEUE FULL answer", page);
        Assert.DoesNotContain("<script", page);
        if (Environment.GetEnvironmentVariable("STORSHARP_REPORT_EXAMPLE") is { Length: > 0 } keep)
        {
            // docs/diagnostics.md shows this run's reports.
            File.Copy(path, Path.Combine(keep, "faults.sstrace"), overwrite: true);
            await File.WriteAllTextAsync(Path.Combine(keep, "faults-report.txt"), text.ToString());
            await File.WriteAllTextAsync(Path.Combine(keep, "faults-report.html"), page);
        }
        Assert.DoesNotContain("http://", page);
        Assert.DoesNotContain("https://", page);
    }

    [Fact]
    public async Task A_trace_over_its_size_limit_drops_requests_and_says_how_many()
    {
        await using var h = await PortHarness.StartAsync();
        string path = Path.Combine(_dir, "small.sstrace");
        var recorder = new TraceRecorder(h.Port, path, new TraceRecorderOptions { MaxBytes = 64 * 1024, EventReserveBytes = 8 * 1024, BufferBytes = 8 * 1024 });
        const int n = 3000; // 3000 x 52 bytes is more than 56 KiB
        for (uint t = 0; t < n; t++)
        {
            h.Receive(h.Request(t));
            if (t % 100 == 0) await Task.Delay(5); // let the writer keep up, so only the size limit drops
        }
        h.Miniport.Port.LinkDown(); // an event after the limit still lands in the reserve
        h.Miniport.Port.LinkUp();
        await recorder.DisposeAsync();
        var trace = TraceReader.Read(path);
        Assert.True(trace.DroppedRequests > 0);
        Assert.Equal(n, trace.Requests.Count + trace.DroppedRequests);
        Assert.Equal(recorder.RecordedRequests, trace.Requests.Count);
        Assert.True(new FileInfo(path).Length <= 64 * 1024 + 1024, $"{new FileInfo(path).Length} bytes");
        Assert.Contains(trace.Events, e => e.Id == StorageEventIds.LinkUp);
        var text = new StringWriter();
        TextReport.Write(TraceAnalysis.Analyse(trace), text);
        Assert.Contains($"DROPPED by the recorder: {trace.DroppedRequests} requests", text.ToString());
    }

    [Fact]
    public void A_file_that_is_not_a_trace_gets_a_clear_error()
    {
        string path = Path.Combine(_dir, "not.sstrace");
        File.WriteAllText(path, "hello, this is not a trace at all");
        var e = Assert.Throws<InvalidDataException>(() => TraceReader.Read(path));
        Assert.Contains("not a StorSharp trace", e.Message);
    }

    [Fact]
    public async Task A_trace_cut_short_keeps_every_whole_record()
    {
        await using var h = await PortHarness.StartAsync();
        string path = Path.Combine(_dir, "cut.sstrace");
        var recorder = new TraceRecorder(h.Port, path);
        for (uint t = 0; t < 10; t++) h.Receive(h.Request(t));
        await recorder.DisposeAsync();
        var bytes = File.ReadAllBytes(path);
        var whole = TraceReader.Read(bytes);
        var cut = TraceReader.Read(bytes.AsSpan(0, bytes.Length - 20));
        Assert.False(whole.Truncated);
        Assert.True(cut.Truncated);
        Assert.Equal(whole.Requests.Take(cut.Requests.Count), cut.Requests);
        Assert.True(cut.Requests.Count >= 9);
        var damaged = bytes.ToArray();
        damaged[TraceFormat.HeaderSize] = 0x7E;
        Assert.Contains("unknown kind", Assert.Throws<InvalidDataException>(() => TraceReader.Read(damaged)).Message);
    }
}
