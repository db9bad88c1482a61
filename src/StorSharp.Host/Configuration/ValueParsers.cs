using System.Globalization;
using System.Net;

namespace StorSharp.Host.Configuration;

/// <summary>Sizes: <c>1G</c>, <c>512M</c>, <c>1GiB</c>, <c>4096</c>. Units are binary (K = 1024), as in qemu-img.</summary>
internal static class SizeParser
{
    public static bool TryParse(string text, out long bytes, out string problem)
    {
        bytes = 0;
        problem = "";
        var s = text.Trim().Replace(" ", "", StringComparison.Ordinal);
        var split = 0;
        while (split < s.Length && (char.IsAsciiDigit(s[split]) || s[split] == '.')) split++;
        var number = s[..split];
        var unit = s[split..].ToUpperInvariant();
        if (unit.EndsWith("IB", StringComparison.Ordinal)) unit = unit[..^2];
        else if (unit.Length > 1 && unit.EndsWith('B')) unit = unit[..^1];
        int shift = unit switch { "" or "B" => 0, "K" => 10, "M" => 20, "G" => 30, "T" => 40, "P" => 50, _ => -1 };
        if (number.Length == 0 || shift < 0 || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            problem = $"'{text}' is not a size; use a number of bytes or a number with K, M, G, T (for example 1G or 512M)";
            return false;
        }
        var exact = value * (1L << shift);
        if (exact > long.MaxValue / 2)
        {
            problem = $"'{text}' is too large";
            return false;
        }
        if (exact != decimal.Truncate(exact))
        {
            problem = $"'{text}' is not a whole number of bytes";
            return false;
        }
        bytes = (long)exact;
        return true;
    }

    /// <summary>A size as people read it: <c>1 GiB</c>, <c>512 MiB</c>, or bytes when not a round unit.</summary>
    public static string Format(long bytes)
    {
        string[] units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
        var i = 0;
        var value = bytes;
        while (i < units.Length - 1 && value >= 1024 && value % 1024 == 0) { value /= 1024; i++; }
        return $"{value.ToString(CultureInfo.InvariantCulture)} {units[i]}";
    }
}

/// <summary>Durations: <c>250ms</c>, <c>30s</c>, <c>1.5s</c>, <c>2m</c>, <c>1h</c>. A unit is required.</summary>
internal static class DurationParser
{
    /// <summary>A duration, or <c>off</c> / <c>none</c> for zero (settings that a zero turns off).</summary>
    public static bool TryParseOrOff(string text, out TimeSpan value, out string problem)
    {
        var t = text.Trim();
        if (t.Equals("off", StringComparison.OrdinalIgnoreCase) || t.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            value = TimeSpan.Zero;
            problem = "";
            return true;
        }
        return TryParse(text, out value, out problem);
    }

    public static bool TryParse(string text, out TimeSpan value, out string problem)
    {
        value = default;
        problem = "";
        var s = text.Trim();
        var split = 0;
        while (split < s.Length && (char.IsAsciiDigit(s[split]) || s[split] == '.')) split++;
        var unit = s[split..].Trim().ToLowerInvariant();
        if (split == 0 || !double.TryParse(s[..split], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            problem = $"'{text}' is not a duration; use a number with us, ms, s, m or h (for example 250ms or 30s)";
            return false;
        }
        double? ms = unit switch { "us" or "µs" => number / 1000, "ms" => number, "s" => number * 1000, "m" or "min" => number * 60_000, "h" => number * 3_600_000, _ => null };
        if (ms is null)
        {
            problem = unit.Length == 0
                ? $"'{text}' needs a unit: us, ms, s, m or h (for example {text}ms or {text}s)"
                : $"'{unit}' is not a time unit; use us, ms, s, m or h";
            return false;
        }
        if (ms > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            problem = $"'{text}' is too long";
            return false;
        }
        value = TimeSpan.FromMilliseconds(ms.Value);
        return true;
    }
}

/// <summary>Listen addresses: <c>127.0.0.1:3260</c>, <c>[::1]:3260</c>, <c>0.0.0.0</c> (default port), <c>localhost:10809</c>.</summary>
internal static class EndpointParser
{
    public static bool TryParse(string text, int defaultPort, out IPEndPoint endpoint, out string problem)
    {
        endpoint = new IPEndPoint(IPAddress.Loopback, defaultPort);
        problem = "";
        var s = text.Trim();
        string host;
        string? portText = null;
        if (s.StartsWith('['))
        {
            var close = s.IndexOf(']');
            if (close < 0) { problem = $"'{text}' is not an address; write IPv6 as [::1]:{defaultPort}"; return false; }
            host = s[1..close];
            var rest = s[(close + 1)..];
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':')) { problem = $"'{text}' is not an address; write IPv6 as [::1]:{defaultPort}"; return false; }
                portText = rest[1..];
            }
        }
        else
        {
            var colon = s.LastIndexOf(':');
            if (colon >= 0 && s.IndexOf(':') != colon) { problem = $"'{text}' is not an address; write IPv6 in brackets, as [::1]:{defaultPort}"; return false; }
            host = colon < 0 ? s : s[..colon];
            portText = colon < 0 ? null : s[(colon + 1)..];
        }
        var port = defaultPort;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
        {
            problem = $"'{portText}' is not a TCP port (0 to 65535) in '{text}'";
            return false;
        }
        IPAddress? address;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) address = IPAddress.Loopback;
        else if (host is "*" or "") address = IPAddress.Any;
        else if (!IPAddress.TryParse(host, out address))
        {
            problem = $"'{host}' is not an IP address in '{text}'; use for example 127.0.0.1:{defaultPort} or 0.0.0.0:{defaultPort}";
            return false;
        }
        endpoint = new IPEndPoint(address, port);
        return true;
    }

    /// <summary>The endpoint as <c>ADDR:PORT</c>, IPv6 in brackets.</summary>
    public static string Format(IPEndPoint endpoint) => endpoint.ToString();
}
