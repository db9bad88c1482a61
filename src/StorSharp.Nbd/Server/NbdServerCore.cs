namespace StorSharp.Nbd.Server;

/// <summary>What every connection of a server shares: the settings snapshot, the opened exports and the log.</summary>
/// <remarks>The export list changes at run time (LUNs added and removed): it is copied on write and read lock-free.</remarks>
internal sealed class NbdServerCore(NbdServerOptions options, IReadOnlyList<NbdExportState> exports, NbdExportState? defaultExport, Action<string>? log)
{
    private readonly Lock _lock = new();
    private volatile NbdExportState[] _exports = [.. exports];

    public NbdServerOptions Options { get; } = options;

    /// <summary>The exports now, in the order they were added.</summary>
    public IReadOnlyList<NbdExportState> Exports => _exports;

    /// <summary>The export the empty name means, while it is still served.</summary>
    public NbdExportState? DefaultExport => defaultExport is { } d && FindByName(d.Name) is { } now ? now : null;

    /// <summary>The export for <paramref name="name"/>; the empty name means the default export.</summary>
    public NbdExportState? FindExport(string name) => name.Length == 0 ? DefaultExport : FindByName(name);

    private NbdExportState? FindByName(string name)
    {
        foreach (var e in _exports)
            if (string.Equals(e.Name, name, StringComparison.Ordinal)) return e;
        return null;
    }

    /// <summary>Adds an export, or replaces the one with the same name when <paramref name="replace"/>; false when the name is taken (or, to replace, missing).</summary>
    public bool TryAdd(NbdExportState export, bool replace)
    {
        lock (_lock)
        {
            int index = Array.FindIndex(_exports, e => string.Equals(e.Name, export.Name, StringComparison.Ordinal));
            if (replace != (index >= 0)) return false;
            if (replace) { var copy = (NbdExportState[])_exports.Clone(); copy[index] = export; _exports = copy; }
            else _exports = [.. _exports, export];
            return true;
        }
    }

    /// <summary>Removes the export named <paramref name="name"/>; null when there is none.</summary>
    public NbdExportState? Remove(string name)
    {
        lock (_lock)
        {
            var found = FindByName(name);
            if (found is not null) _exports = [.. _exports.Where(e => !ReferenceEquals(e, found))];
            return found;
        }
    }

    public void Log(string message) => log?.Invoke(message);
}
