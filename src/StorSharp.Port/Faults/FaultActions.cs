namespace StorSharp.Port;

/// <summary>
/// The fault-injection actions that are events rather than per-request rules: take the adapter's
/// link down for a while (the port's LinkDown / LinkUp path), and drop the front-end connections
/// to an LU.
/// </summary>
public static class FaultActions
{
    /// <summary>
    /// Takes the link of <paramref name="adapter"/> down now and up again after
    /// <paramref name="duration"/>, as a miniport reports a cable pull: I/O is held up to
    /// <see cref="PortTunables.LinkDownTimeout"/>, then fails with LINK_DOWN until the link is back.
    /// </summary>
    /// <returns>The timer that brings the link back; dispose it to cancel the LinkUp.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The duration is not between 0 and 1 hour.</exception>
    public static IDisposable LinkDownFor(Adapter adapter, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        if (duration <= TimeSpan.Zero || duration > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "A link-down fault lasts more than 0 and at most 1 hour.");
        adapter.Log(StorageEventIds.LinkDownInjected, EventLevel.Warning,
            $"Fault injection takes the link of {adapter.DeviceName} down for {duration.TotalSeconds:0.###} s (LinkDownTimeout is {adapter.Tunables.LinkDownTimeout.TotalSeconds:0.###} s).",
            ("Duration", duration.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)));
        adapter.Services.LinkDown();
        return adapter.Services.RequestTimer(adapter.Services.LinkUp, duration);
    }

    /// <summary>Asks every front end to close the connections that use <paramref name="unit"/>; returns how many front ends were told.</summary>
    public static int DropConnections(LogicalUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        return unit.Adapter.RequestConnectionDrop(unit.Address);
    }
}
