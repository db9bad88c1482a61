using System.CommandLine;
using StorSharp.Diagnostics.Reporting;
using StorSharp.Host;

namespace StorSharp.Cli;

/// <summary><c>storsharp trace report FILE [--format html|text] [--output OUT]</c>: the report of a trace recorded with <c>serve --trace</c>.</summary>
internal static class TraceCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format") { Description = "html (a self-contained page with charts) or text (the summary with averages and maximums). Default: html.", HelpName = "html|text", Recursive = true };
        var output = new Option<string>("--output", "-o") { Description = "Write the report to this file. Default: standard output.", HelpName = "OUT", Recursive = true };
        var file = new Argument<string>("FILE") { Description = "A trace recorded with 'storsharp serve --trace FILE'." };
        var report = new Command("report", "Write the report of a trace: IOPS, throughput, latency percentiles and queue depth over time, time by stage, latency histograms per LU, port events, the slowest requests.") { file };
        report.SetAction(parse =>
        {
            var io = parse.InvocationConfiguration;
            var name = parse.GetValue(format) ?? "html";
            TraceReportFormat kind;
            if (name.Equals("html", StringComparison.OrdinalIgnoreCase)) kind = TraceReportFormat.Html;
            else if (name.Equals("text", StringComparison.OrdinalIgnoreCase)) kind = TraceReportFormat.Text;
            else
            {
                io.Error.WriteLine($"storsharp: --format {name} is not a report format; use html or text");
                return ServeRunner.ExitUsage;
            }
            var path = parse.GetValue(file)!;
            var outPath = parse.GetValue(output);
            try
            {
                if (outPath is null)
                {
                    TraceReport.Write(path, kind, io.Output);
                    return ServeRunner.ExitOk;
                }
                using (var writer = new StreamWriter(outPath)) TraceReport.Write(path, kind, writer);
                io.Output.WriteLine($"Wrote {outPath}");
                return ServeRunner.ExitOk;
            }
            catch (FileNotFoundException)
            {
                io.Error.WriteLine($"storsharp: {path}: no such file");
                return ServeRunner.ExitUsage;
            }
            catch (InvalidDataException e)
            {
                io.Error.WriteLine($"storsharp: {e.Message}");
                return ServeRunner.ExitUsage;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                io.Error.WriteLine($"storsharp: {e.Message}");
                return ServeRunner.ExitFailure;
            }
        });
        return new Command("trace", "Work with traces recorded by 'storsharp serve' with a trace file.") { format, output, report };
    }
}
