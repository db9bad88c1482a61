using System.Globalization;
using StorSharp.Port;

namespace StorSharp.Host.Configuration;

/// <summary>Binds <c>luns[].faults</c> (and the management API's fault bodies): a list of fault rules.</summary>
internal sealed partial class ConfigurationBinder
{
    /// <summary>The fields of one fault rule.</summary>
    public static readonly string[] FaultFields = ["kind", "operations", "count", "rate", "delay", "senseKey", "asc", "ascq"];

    /// <summary>Reads a list of fault rules from <paramref name="node"/>; errors name <paramref name="path"/>[i].field.</summary>
    public IReadOnlyList<FaultRule> BindFaults(ConfigNode node, string path) =>
        [.. List(node, path, BindFaultRule).Where(r => r is not null).Select(r => r!)];

    private FaultRule? BindFaultRule(ConfigNode node, string path)
    {
        if (AsMapping(node, path) is not { } map) return null;
        var f = Fields(map, path, FaultFields);
        int before = _errors.Count;
        FaultKind kind = FaultKind.Delay;
        var kindText = Required(f, "kind", path, node);
        if (kindText is not null && !TryParseKind(kindText, out kind))
            Error(f["kind"], Join(path, "kind"), $"'{kindText}' is not a fault kind; use delay, error, busy, queueFull, stall, timeout or commandTimeout");
        var operations = FaultOperations.Media;
        if (f.TryGetValue("operations", out var opsNode)) operations = Operations(opsNode, Join(path, "operations"));
        var (delay, delayMax) = f.TryGetValue("delay", out var delayNode) ? DelayRange(delayNode, Join(path, "delay")) : (TimeSpan.Zero, null);
        var rule = new FaultRule
        {
            Kind = kind,
            Operations = operations,
            Count = Int(f, "count", path),
            Rate = f.TryGetValue("rate", out var rateNode) ? Rate(rateNode, Join(path, "rate")) : null,
            Delay = delay,
            DelayMax = delayMax,
            SenseKey = Byte(f, "senseKey", path, 0x03, SenseKeyNames),
            Asc = Byte(f, "asc", path, 0x11, null),
            Ascq = Byte(f, "ascq", path, 0x00, null),
        };
        if (_errors.Count != before) return null;
        try
        {
            rule.Validate();
        }
        catch (ArgumentException e)
        {
            var field = e.ParamName ?? "kind";
            var at = f.TryGetValue(field, out var fieldNode) ? fieldNode : node;
            Error(at, Join(path, field), FirstSentence(e.Message));
            return null;
        }
        return rule;
    }

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" (Parameter", StringComparison.Ordinal);
        return (cut >= 0 ? message[..cut] : message).TrimEnd('.');
    }

    private static bool TryParseKind(string text, out FaultKind kind)
    {
        kind = text.Replace("-", "").Replace("_", "").ToLowerInvariant() switch
        {
            "delay" => FaultKind.Delay,
            "error" => FaultKind.Error,
            "busy" => FaultKind.Busy,
            "queuefull" or "tasksetfull" => FaultKind.QueueFull,
            "stall" => FaultKind.Stall,
            "timeout" => FaultKind.Timeout,
            "commandtimeout" => FaultKind.CommandTimeout,
            _ => (FaultKind)(-1),
        };
        return Enum.IsDefined(kind);
    }

    private FaultOperations Operations(ConfigNode node, string path)
    {
        var names = node is ConfigSequence ? List(node, path, (n, p) => (Node: n, Text: ScalarText(n, p))) : [(node, ScalarText(node, path))];
        var result = FaultOperations.None;
        foreach (var (n, text) in names)
        {
            if (text is null) continue;
            foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (FaultOperationClassifier.TryParse(part, out var op)) result |= op;
                else Error(n, path, $"'{part}' is not an operation; use read, write, flush, unmap, other, media or all");
            }
        }
        return result == FaultOperations.None ? FaultOperations.Media : result;
    }

    private (TimeSpan, TimeSpan?) DelayRange(ConfigNode node, string path)
    {
        if (ScalarText(node, path) is not { } text) return (TimeSpan.Zero, null);
        var parts = text.Split("..", 2, StringSplitOptions.TrimEntries);
        if (!DurationParser.TryParse(parts[0], out var min, out var problem))
        {
            Error(node, path, problem + " (a delay is a duration like 20ms, or a range like 10ms..50ms)");
            return (TimeSpan.Zero, null);
        }
        if (parts.Length == 1) return (min, null);
        if (!DurationParser.TryParse(parts[1], out var max, out problem))
        {
            Error(node, path, problem + " (a delay range is like 10ms..50ms)");
            return (min, null);
        }
        return (min, max);
    }

    private double? Rate(ConfigNode node, string path)
    {
        if (ScalarText(node, path) is not { } text) return null;
        bool percent = text.EndsWith('%');
        if (double.TryParse(percent ? text[..^1] : text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            return percent ? value / 100 : value;
        Error(node, path, $"'{text}' is not a rate; use a fraction like 0.25 or a percentage like 25%");
        return null;
    }

    private static readonly Dictionary<string, byte> SenseKeyNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["NOT_READY"] = 0x02, ["MEDIUM_ERROR"] = 0x03, ["HARDWARE_ERROR"] = 0x04, ["ILLEGAL_REQUEST"] = 0x05,
        ["UNIT_ATTENTION"] = 0x06, ["DATA_PROTECT"] = 0x07, ["ABORTED_COMMAND"] = 0x0B, ["MISCOMPARE"] = 0x0E,
    };

    private byte Byte(Dictionary<string, ConfigNode> f, string name, string path, byte fallback, Dictionary<string, byte>? names)
    {
        if (!f.TryGetValue(name, out var node) || ScalarText(node, Join(path, name)) is not { } text) return fallback;
        if (names is not null && names.TryGetValue(text.Replace(' ', '_'), out var named)) return named;
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (hex ? byte.TryParse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value)
                : byte.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value))
            return value;
        var hint = names is null ? "" : $", or a name ({string.Join(", ", names.Keys)})";
        Error(node, Join(path, name), $"'{text}' is not a byte; use 0 to 255 or 0x00 to 0xFF{hint}");
        return fallback;
    }
}
