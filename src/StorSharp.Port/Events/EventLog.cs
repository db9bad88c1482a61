using System.Text;
using System.Text.Json;

namespace StorSharp.Port;

/// <summary>
/// The port's event log: structured events kept in memory (the newest <see cref="Capacity"/>)
/// and, when a path is given, appended to a JSON-lines file so they survive restarts.
/// Thread-safe. Events are rare (errors, resets, state changes), never per request.
/// </summary>
public sealed class EventLog : IDisposable
{
    private readonly object _gate = new();
    private readonly Queue<StorageEvent> _events = new();
    private readonly StreamWriter? _file;
    private long _total;

    /// <summary>Creates a log kept in memory, and appended to <paramref name="path"/> when given.</summary>
    /// <param name="path">A JSON-lines file to append to; created with its folder when missing.</param>
    /// <param name="capacity">How many recent events to keep in memory.</param>
    public EventLog(string? path = null, int capacity = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        if (path is not null)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            _file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite), new UTF8Encoding(false)) { AutoFlush = true };
            FilePath = path;
        }
    }

    /// <summary>How many events are kept in memory.</summary>
    public int Capacity { get; }

    /// <summary>The JSON-lines file events are appended to, if any.</summary>
    public string? FilePath { get; }

    /// <summary>How many events were logged since the log was created.</summary>
    public long TotalCount => Interlocked.Read(ref _total);

    /// <summary>Raised after an event is logged (on the logging thread; keep handlers short).</summary>
    public event Action<StorageEvent>? Logged;

    /// <summary>Adds an event.</summary>
    public void Write(StorageEvent e)
    {
        lock (_gate)
        {
            _events.Enqueue(e);
            while (_events.Count > Capacity) _events.Dequeue();
            _total++;
            _file?.WriteLine(JsonSerializer.Serialize(e, EventLogJson.Options));
        }
        Logged?.Invoke(e);
    }

    /// <summary>The events in memory, oldest first.</summary>
    public IReadOnlyList<StorageEvent> Snapshot()
    {
        lock (_gate) return [.. _events];
    }

    /// <summary>The events in memory with the given id, oldest first.</summary>
    public IReadOnlyList<StorageEvent> WithId(int id)
    {
        lock (_gate) return [.. _events.Where(e => e.Id == id)];
    }

    /// <summary>Reads every event from a JSON-lines file written by an <see cref="EventLog"/>; unreadable lines are skipped.</summary>
    public static IReadOnlyList<StorageEvent> ReadFile(string path)
    {
        var list = new List<StorageEvent>();
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            try
            {
                if (JsonSerializer.Deserialize<StorageEvent>(line, EventLogJson.Options) is { } e) list.Add(e);
            }
            catch (JsonException)
            {
                // A torn last line after a crash: skip it, keep the rest.
            }
        }
        return list;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate) _file?.Dispose();
    }
}

internal static class EventLogJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };
}
