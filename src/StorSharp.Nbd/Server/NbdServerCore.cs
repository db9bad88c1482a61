namespace StorSharp.Nbd.Server;

/// <summary>What every connection of a server shares: the settings snapshot, the opened exports and the log.</summary>
internal sealed class NbdServerCore(NbdServerOptions options, IReadOnlyList<NbdExportState> exports, NbdExportState? defaultExport, Action<string>? log)
{
    public NbdServerOptions Options { get; } = options;
    public IReadOnlyList<NbdExportState> Exports { get; } = exports;
    public NbdExportState? DefaultExport { get; } = defaultExport;

    /// <summary>The export for <paramref name="name"/>; the empty name means the default export.</summary>
    public NbdExportState? FindExport(string name)
    {
        if (name.Length == 0) return DefaultExport;
        foreach (var e in Exports)
            if (string.Equals(e.Name, name, StringComparison.Ordinal)) return e;
        return null;
    }

    public void Log(string message) => log?.Invoke(message);
}
