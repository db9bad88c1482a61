namespace StorSharp.Host.Configuration;

/// <summary>
/// A node of a configuration document with the place it came from, so validation errors can
/// name the line. YAML and JSON files are both read into this one tree.
/// </summary>
internal abstract class ConfigNode(int line, int column)
{
    /// <summary>1-based line of the node's first character.</summary>
    public int Line { get; } = line;

    /// <summary>1-based column of the node's first character.</summary>
    public int Column { get; } = column;

    /// <summary>A word for error messages: "a mapping", "a list", "a value".</summary>
    public abstract string Kind { get; }
}

/// <summary>A scalar: text, a number, a boolean or null.</summary>
internal sealed class ConfigScalar(string? value, int line, int column) : ConfigNode(line, column)
{
    /// <summary>The text; null for YAML <c>~</c>, <c>null</c>, empty, or JSON <c>null</c>.</summary>
    public string? Value { get; } = value;

    public override string Kind => "a value";
}

/// <summary>A mapping of keys to nodes, in document order.</summary>
internal sealed class ConfigMapping(IReadOnlyList<KeyValuePair<ConfigScalar, ConfigNode>> entries, int line, int column) : ConfigNode(line, column)
{
    public IReadOnlyList<KeyValuePair<ConfigScalar, ConfigNode>> Entries { get; } = entries;

    public override string Kind => "a mapping";
}

/// <summary>A list of nodes.</summary>
internal sealed class ConfigSequence(IReadOnlyList<ConfigNode> items, int line, int column) : ConfigNode(line, column)
{
    public IReadOnlyList<ConfigNode> Items { get; } = items;

    public override string Kind => "a list";
}
