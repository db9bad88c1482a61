using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace StorSharp.Host.Configuration;

/// <summary>
/// Reads YAML or JSON text into a <see cref="ConfigNode"/> tree that keeps line and column of
/// every node. JSON is read with <see cref="Utf8JsonReader"/> (lines counted from byte offsets)
/// rather than as YAML, because JSON allows tabs and other things YAML rejects.
/// </summary>
internal static class ConfigDocumentReader
{
    /// <summary>True when the text should be read as JSON: a <c>.json</c> name or a leading <c>{</c>.</summary>
    public static bool LooksLikeJson(string sourceName, string text) =>
        sourceName.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || text.AsSpan().TrimStart().StartsWith("{");

    /// <summary>Parses the text; a syntax error throws <see cref="ConfigurationException"/> naming the line.</summary>
    /// <returns>The root node, or null for an empty document.</returns>
    public static ConfigNode? Read(string sourceName, string text) =>
        LooksLikeJson(sourceName, text) ? ReadJson(sourceName, text) : ReadYaml(sourceName, text);

    private static ConfigNode? ReadYaml(string sourceName, string text)
    {
        var stream = new YamlStream();
        var scanner = new Scanner(new StringReader(text));
        try
        {
            stream.Load(new Parser(scanner));
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner fails this way on some malformed flow collections (for example a
            // flow sequence continued on a less indented line); its position is where it gave up.
            var at = scanner.CurrentPosition;
            throw new ConfigurationException([new ConfigurationError(sourceName, (int)at.Line, (int)at.Column, "",
                "YAML syntax error: the text here cannot be read (check the indentation of a [ ... ] or { ... } spread over several lines)")]);
        }
        catch (YamlException e)
        {
            // YamlDotNet's messages start with "(Line: 3, Col: 5, Idx: ...) - (...): "; keep the reason only.
            var reason = e.InnerException?.Message ?? e.Message;
            var cut = reason.LastIndexOf("): ", StringComparison.Ordinal);
            if (reason.StartsWith('(') && cut > 0) reason = reason[(cut + 3)..];
            if (reason.StartsWith("Duplicate key ", StringComparison.Ordinal))
                throw new ConfigurationException([new ConfigurationError(sourceName, (int)e.Start.Line, (int)e.Start.Column, "", $"'{reason["Duplicate key ".Length..]}' is given twice in one mapping")]);
            throw new ConfigurationException([new ConfigurationError(sourceName, (int)e.Start.Line, (int)e.Start.Column, "", $"YAML syntax error: {reason}")]);
        }
        if (stream.Documents.Count == 0) return null;
        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode;
            throw new ConfigurationException([new ConfigurationError(sourceName, (int)second.Start.Line, (int)second.Start.Column, "", "the file holds more than one YAML document; keep one")]);
        }
        return Convert(stream.Documents[0].RootNode);
    }

    private static ConfigNode Convert(YamlNode node)
    {
        int line = (int)node.Start.Line, column = (int)node.Start.Column;
        switch (node)
        {
            case YamlScalarNode s:
                var isNull = s.Style == ScalarStyle.Plain && (s.Value is null or "" or "~" or "null" or "Null" or "NULL");
                return new ConfigScalar(isNull ? null : s.Value, line, column);
            case YamlSequenceNode seq:
                return new ConfigSequence([.. seq.Children.Select(Convert)], line, column);
            case YamlMappingNode map:
                var entries = new List<KeyValuePair<ConfigScalar, ConfigNode>>();
                foreach (var (k, v) in map.Children)
                {
                    var key = Convert(k) as ConfigScalar ?? new ConfigScalar("?", (int)k.Start.Line, (int)k.Start.Column);
                    entries.Add(new(key, Convert(v)));
                }
                return new ConfigMapping(entries, line, column);
            default:
                // Aliases are resolved by YamlStream; anything else is unexpected.
                return new ConfigScalar(node.ToString(), line, column);
        }
    }

    private static ConfigNode? ReadJson(string sourceName, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var lineStarts = new List<int> { 0 };
        for (var i = 0; i < bytes.Length; i++) if (bytes[i] == (byte)'\n') lineStarts.Add(i + 1);

        (int Line, int Column) Position(long offset)
        {
            var index = lineStarts.BinarySearch((int)offset);
            if (index < 0) index = ~index - 1;
            return (index + 1, (int)offset - lineStarts[index] + 1);
        }

        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            if (!reader.Read()) return null;
            var root = ReadJsonNode(ref reader, Position);
            if (reader.Read())
            {
                var (l, c) = Position(reader.TokenStartIndex);
                throw new ConfigurationException([new ConfigurationError(sourceName, l, c, "", "JSON syntax error: text after the end of the document")]);
            }
            return root;
        }
        catch (JsonException e)
        {
            var line = (int)(e.LineNumber ?? 0) + 1;
            var reason = e.Message;
            var cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0) reason = reason[..cut].TrimEnd('.', ' ');
            throw new ConfigurationException([new ConfigurationError(sourceName, line, (int)(e.BytePositionInLine ?? 0) + 1, "", $"JSON syntax error: {reason}")]);
        }
    }

    private static ConfigNode ReadJsonNode(ref Utf8JsonReader reader, Func<long, (int, int)> position)
    {
        var (line, column) = position(reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var entries = new List<KeyValuePair<ConfigScalar, ConfigNode>>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var (kl, kc) = position(reader.TokenStartIndex);
                    var key = new ConfigScalar(reader.GetString(), kl, kc);
                    reader.Read();
                    entries.Add(new(key, ReadJsonNode(ref reader, position)));
                }
                return new ConfigMapping(entries, line, column);
            case JsonTokenType.StartArray:
                var items = new List<ConfigNode>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) items.Add(ReadJsonNode(ref reader, position));
                return new ConfigSequence(items, line, column);
            case JsonTokenType.String:
                return new ConfigScalar(reader.GetString(), line, column);
            case JsonTokenType.Number:
                return new ConfigScalar(Encoding.UTF8.GetString(reader.ValueSpan), line, column);
            case JsonTokenType.True:
                return new ConfigScalar("true", line, column);
            case JsonTokenType.False:
                return new ConfigScalar("false", line, column);
            default:
                return new ConfigScalar(null, line, column);
        }
    }
}
