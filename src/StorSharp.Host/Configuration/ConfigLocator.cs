namespace StorSharp.Host.Configuration;

/// <summary>
/// Remembers where each field of a configuration came from (file line, or a command-line
/// option), so that errors found after binding still name the line and field.
/// </summary>
internal sealed class ConfigLocator(string defaultSource)
{
    private readonly Dictionary<string, (string Source, int Line, int Column, string Field)> _places = new(StringComparer.Ordinal);

    /// <summary>The source used for paths nobody recorded.</summary>
    public string DefaultSource { get; } = defaultSource;

    /// <summary>Records that <paramref name="path"/> was read from a node of <paramref name="source"/>.</summary>
    public void Record(string path, string source, ConfigNode node) => _places[path] = (source, node.Line, node.Column, path);

    /// <summary>Records that <paramref name="path"/> was set by a command-line option (the option is named as the field).</summary>
    public void RecordOption(string path, string option) => _places[path] = ("command line", 0, 0, option);

    /// <summary>Makes an error for <paramref name="path"/>, placed at the nearest recorded field at or above it.</summary>
    public ConfigurationError Error(string path, string message)
    {
        for (var p = path; ; p = Parent(p))
        {
            if (_places.TryGetValue(p, out var place))
            {
                // A command-line option stands for the whole field; a file place keeps the full path.
                var field = place.Line == 0 && place.Source == "command line" ? place.Field : path;
                return new ConfigurationError(place.Source, place.Line, place.Column, field, message);
            }
            if (p.Length == 0) return new ConfigurationError(DefaultSource, 0, 0, path, message);
        }
    }

    private static string Parent(string path)
    {
        var dot = path.LastIndexOf('.');
        var bracket = path.LastIndexOf('[');
        var cut = Math.Max(dot, bracket);
        return cut < 0 ? "" : path[..cut];
    }
}
