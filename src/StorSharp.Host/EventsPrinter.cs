using System.Globalization;
using System.Text;
using StorSharp.Port;

namespace StorSharp.Host;

/// <summary>Prints a JSON-lines event log (written by <see cref="EventLog"/>) for people: <c>storsharp events</c>.</summary>
public static class EventsPrinter
{
    /// <summary>Prints the events of <paramref name="path"/>, oldest first; returns the exit code (0, or 1 when the file cannot be read).</summary>
    /// <param name="path">The JSON-lines file.</param>
    /// <param name="last">Print only the newest this many; all when null.</param>
    /// <param name="output">Where the events go.</param>
    /// <param name="error">Where errors go.</param>
    public static int Print(string path, int? last, TextWriter output, TextWriter error)
    {
        IReadOnlyList<StorageEvent> events;
        try
        {
            events = EventLog.ReadFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var reason = e is FileNotFoundException or DirectoryNotFoundException ? "the file does not exist (has the server run with this event log?)" : e.Message;
            error.WriteLine($"storsharp: cannot read the event log {path}: {reason}");
            return ServeRunner.ExitFailure;
        }
        var shown = last is { } n ? events.Skip(Math.Max(0, events.Count - n)) : events;
        var count = 0;
        foreach (var e in shown)
        {
            output.WriteLine(Format(e));
            count++;
        }
        if (count == 0) output.WriteLine($"No events in {path}.");
        return ServeRunner.ExitOk;
    }

    /// <summary>One event on one line: time, level, id, source, device, message, then the data as key=value.</summary>
    public static string Format(StorageEvent e)
    {
        var line = new StringBuilder();
        line.Append(e.Time.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture));
        line.Append(' ').Append(e.Level.ToString().PadRight(11));
        line.Append(' ').Append(e.Id.ToString(CultureInfo.InvariantCulture).PadLeft(5));
        line.Append(' ').Append(e.Source);
        if (e.Device.Length > 0) line.Append(' ').Append(e.Device);
        line.Append(": ").Append(e.Message);
        if (e.Data is { Count: > 0 })
        {
            line.Append("  [");
            line.AppendJoin(' ', e.Data.Select(kv => $"{kv.Key}={kv.Value}"));
            line.Append(']');
        }
        return line.ToString();
    }
}
