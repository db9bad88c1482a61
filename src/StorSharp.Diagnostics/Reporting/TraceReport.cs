using StorSharp.Diagnostics.Tracing;

namespace StorSharp.Diagnostics.Reporting;

/// <summary>The formats <c>storsharp trace report</c> writes.</summary>
public enum TraceReportFormat
{
    /// <summary>A self-contained HTML page with charts.</summary>
    Html,
    /// <summary>Plain text: the same summary with averages and maximums.</summary>
    Text,
}

/// <summary>Reads a trace file and writes its report: what <c>storsharp trace report</c> does.</summary>
public static class TraceReport
{
    /// <summary>Reads <paramref name="tracePath"/>, analyses it and writes the report to <paramref name="output"/>.</summary>
    /// <returns>The analysis (tests check it against the run).</returns>
    /// <exception cref="InvalidDataException">The file is not a StorSharp trace.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static TraceAnalysis Write(string tracePath, TraceReportFormat format, TextWriter output)
    {
        var analysis = TraceAnalysis.Analyse(TraceReader.Read(tracePath));
        if (format == TraceReportFormat.Html) HtmlReport.Write(analysis, output, Path.GetFileName(tracePath));
        else TextReport.Write(analysis, output);
        return analysis;
    }
}
