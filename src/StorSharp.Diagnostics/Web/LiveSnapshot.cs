using StorSharp.Port;

namespace StorSharp.Diagnostics.Web;

/// <summary>One LU in a live snapshot: running totals (the dashboard turns them into rates) and the queue now.</summary>
/// <param name="Adapter">RaidPortN.</param>
/// <param name="Address">b:t:l.</param>
/// <param name="Name">The host's name for it (target and LUN, export), or the product id.</param>
/// <param name="Completed">Requests completed since it appeared.</param>
/// <param name="Failed">Of those, failures.</param>
/// <param name="BytesRead">Bytes read.</param>
/// <param name="BytesWritten">Bytes written.</param>
/// <param name="LatencySeconds">The sum of port latencies.</param>
/// <param name="Pending">Requests waiting in the port's queue now.</param>
/// <param name="Outstanding">Requests the miniport holds now.</param>
/// <param name="QueueDepth">The most the miniport may hold.</param>
/// <param name="Timeouts">Timeouts (event 129).</param>
/// <param name="Resets">Resets.</param>
/// <param name="Busy">BUSY and QUEUE FULL answers.</param>
public sealed record LiveUnit(string Adapter, string Address, string Name, long Completed, long Failed, long BytesRead, long BytesWritten,
    double LatencySeconds, int Pending, int Outstanding, int QueueDepth, long Timeouts, long Resets, long Busy);

/// <summary>One adapter in a live snapshot.</summary>
/// <param name="Name">RaidPortN.</param>
/// <param name="Miniport">The miniport's name.</param>
/// <param name="State">Running, Stopped ...</param>
/// <param name="LinkDown">True while its link is down.</param>
/// <param name="Units">Its LUs.</param>
public sealed record LiveAdapter(string Name, string Miniport, string State, bool LinkDown, IReadOnlyList<LiveUnit> Units);

/// <summary>An event in a live snapshot.</summary>
/// <param name="Id">The event id.</param>
/// <param name="Time">When.</param>
/// <param name="Level">Information, Warning, Error.</param>
/// <param name="Device">The device.</param>
/// <param name="Message">The text.</param>
public sealed record LiveEvent(int Id, DateTimeOffset Time, string Level, string Device, string Message);

/// <summary>What the dashboard receives every interval (GET /api/live, server-sent events; or once from GET /api/live?once=1).</summary>
/// <param name="Time">When it was taken (Unix milliseconds).</param>
/// <param name="Adapters">Adapters and their LUs.</param>
/// <param name="Sessions">Open sessions per front end.</param>
/// <param name="EventTotal">Events logged since the start.</param>
/// <param name="Events">The newest events (up to 20), newest last.</param>
public sealed record LiveSnapshot(long Time, IReadOnlyList<LiveAdapter> Adapters, IReadOnlyDictionary<string, long> Sessions, long EventTotal, IReadOnlyList<LiveEvent> Events);
