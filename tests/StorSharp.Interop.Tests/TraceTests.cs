using StorSharp.Diagnostics.Tracing;
using StorSharp.Port;

namespace StorSharp.Interop.Tests;

/// <summary><c>storsharp serve --trace FILE</c> with a real initiator, then <c>storsharp trace report</c>.</summary>
public sealed class TraceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [InteropFact("qemu-img")]
    public async Task Serve_records_an_iscsi_run_and_trace_report_summarises_it()
    {
        using var folder = new TempFolder();
        string trace = Path.Combine(folder.Path, "run.sstrace");
        var server = await StorSharpServer.StartAsync(true, false, "--size", "64M", "--trace", trace);
        await using (server)
        {
            var image = await Images.RandomRaw(folder, 4 << 20);
            var write = await Cli.Run("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", image, server.IscsiUrl()], Bound);
            Assert.True(write.ExitCode == 0, write.ToString());
            server.Signal(15);
            Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains($"recording a trace to {trace}", server.Error);
        }

        var data = TraceReader.Read(trace);
        Assert.Equal(0, data.DroppedRequests);
        var fromIscsi = data.Requests.Where(r => (r.Flags & TraceFormat.FlagFrontEndStamped) != 0).ToList();
        Assert.NotEmpty(fromIscsi);
        Assert.All(fromIscsi, r => Assert.Equal(0, r.Flags & TraceFormat.FlagNoReply)); // every command was answered
        Assert.True(fromIscsi.Where(r => r.Kind == OperationClass.Write && r.IsSuccess).Sum(r => (long)r.Bytes) >= 4 << 20);
        Assert.Contains(fromIscsi, r => (r.Flags & TraceFormat.FlagBackendStamped) != 0); // the disk miniport marks its backend calls
        Assert.Contains("iqn.2026-11.io.storsharp:disk0 LUN 0", data.Units.Values);

        var text = await Cli.RunStorSharp(Bound, "trace", "report", trace, "--format", "text");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains($"requests {data.Requests.Count} (", text.Output);
        Assert.Contains("iqn.2026-11.io.storsharp:disk0 LUN 0", text.Output);
        string html = Path.Combine(folder.Path, "report.html");
        var page = await Cli.RunStorSharp(Bound, "trace", "report", trace, "-o", html);
        Assert.True(page.ExitCode == 0, page.ToString());
        Assert.Contains("<svg", await File.ReadAllTextAsync(html));

        var bad = await Cli.RunStorSharp(Bound, "trace", "report", html);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("is not a StorSharp trace", bad.Error);
    }
}
