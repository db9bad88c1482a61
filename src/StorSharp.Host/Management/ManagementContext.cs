using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using StorSharp.Port;

namespace StorSharp.Host.Management;

/// <summary>What every management operation works on: the running host, and helpers to find LUNs and read arguments.</summary>
internal sealed class ManagementContext(StorSharpHost host)
{
    public StorSharpHost Host { get; } = host;

    /// <summary>The LUN named by the route's <c>{target}</c> (IQN) and <c>{lun}</c> (number), with its port LU.</summary>
    public (ComposedLun Lun, LogicalUnit Unit) FindLun(HttpContext http)
    {
        var target = (string?)http.Request.RouteValues["target"] ?? "";
        var text = (string?)http.Request.RouteValues["lun"] ?? "";
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            throw ManagementException.BadArgument("lun", $"'{text}' is not a LUN number");
        var lun = Host.Luns.FirstOrDefault(l => l.Settings.Number == number && string.Equals(l.Settings.Target, target, StringComparison.OrdinalIgnoreCase))
            ?? throw ManagementException.NotFound("target", $"there is no LUN {number} behind target '{target}'; GET /v1/luns lists them");
        var unit = lun.Adapter.GetLogicalUnit(lun.Address)
            ?? throw new ManagementException(StatusCodes.Status409Conflict, $"LUN {number} of {target} is not present on {lun.Adapter.DeviceName}", "lun");
        return (lun, unit);
    }

    /// <summary>Reads the request body as a JSON object (an empty body is an empty object).</summary>
    public static async Task<JsonElement> ReadObjectAsync(HttpContext http)
    {
        var text = await ReadBodyAsync(http).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(text)) return JsonDocument.Parse("{}").RootElement;
        try
        {
            var root = JsonDocument.Parse(text).RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw ManagementException.BadArgument("body", "expected a JSON object");
            return root;
        }
        catch (JsonException e)
        {
            throw ManagementException.BadArgument("body", $"not valid JSON: {e.Message}");
        }
    }

    /// <summary>The body as text (at most 64 KiB).</summary>
    public static async Task<string> ReadBodyAsync(HttpContext http)
    {
        if (http.Request.ContentLength > 65536) throw ManagementException.BadArgument("body", "is larger than 64 KiB");
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync(http.RequestAborted).ConfigureAwait(false);
        if (text.Length > 65536) throw ManagementException.BadArgument("body", "is larger than 64 KiB");
        return text;
    }

    /// <summary>An optional number field of <paramref name="body"/> within [min, max].</summary>
    public static double? Number(JsonElement body, string field, double min, double max)
    {
        if (!body.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number))
            throw ManagementException.BadArgument(field, $"expected a number, found {value.ValueKind.ToString().ToLowerInvariant()}");
        if (number < min || number > max || double.IsNaN(number))
            throw ManagementException.BadArgument(field, $"is {number.ToString(CultureInfo.InvariantCulture)}; it must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}");
        return number;
    }

    /// <summary>Refuses fields the operation does not know (a typo must not be silently ignored).</summary>
    public static void OnlyFields(JsonElement body, params string[] known)
    {
        foreach (var property in body.EnumerateObject())
            if (!known.Contains(property.Name, StringComparer.Ordinal))
                throw ManagementException.BadArgument(property.Name, known.Length == 0 ? "this operation takes no arguments" : $"unknown field; known fields: {string.Join(", ", known)}");
    }

    /// <summary>The API's refusal for a run-time LUN change the host refused (400, 404 or 409, naming the field).</summary>
    public static ManagementException Refused(LunChangeException e) => e.Refusal switch
    {
        LunChangeRefusal.NotFound => ManagementException.NotFound(e.Field, e.Message),
        LunChangeRefusal.Conflict => new ManagementException(StatusCodes.Status409Conflict, e.Message, e.Field),
        _ => ManagementException.BadArgument(e.Field, e.Message),
    };

    /// <summary>The route's <c>{target}</c> and <c>{lun}</c> as given (the LUN need not exist).</summary>
    public static (string Target, int Number) LunRoute(HttpContext http)
    {
        var target = (string?)http.Request.RouteValues["target"] ?? "";
        var text = (string?)http.Request.RouteValues["lun"] ?? "";
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > Configuration.ConfigurationValidator.MaxLunNumber)
            throw ManagementException.BadArgument("lun", $"'{text}' is not a LUN number (0 to {Configuration.ConfigurationValidator.MaxLunNumber})");
        return (target, number);
    }

    /// <summary>An LU as the API shows it.</summary>
    public object Describe(ComposedLun lun)
    {
        var unit = lun.Adapter.GetLogicalUnit(lun.Address);
        var counters = unit?.Counters ?? default;
        return new
        {
            target = lun.Settings.Target,
            lun = lun.Settings.Number,
            adapter = lun.Adapter.Number,
            device = lun.Settings.Device.ToString().ToLowerInvariant(),
            address = lun.Address.ToString(),
            state = unit is null ? "absent" : unit.IsRemoved ? "removed" : unit.IsRemoving ? "removing" : unit.IsResetting ? "resetting" : unit.IsPaused ? "paused" : "ready",
            sizeBytes = lun.Device.Geometry.SizeBytes,
            blockSize = lun.Device.Geometry.LogicalBlockSize,
            readOnly = lun.Settings.ReadOnly,
            productId = unit?.Identity?.ProductId ?? lun.Settings.ProductId,
            queueDepth = unit?.QueueDepth ?? 0,
            pending = unit?.PendingCount ?? 0,
            outstanding = unit?.OutstandingCount ?? 0,
            counters = new
            {
                completed = counters.Completed,
                failed = counters.Failed,
                timeouts = counters.Timeouts,
                resets = counters.Resets,
                busyRetries = counters.BusyRetries,
                queueFullRetries = counters.QueueFullRetries,
            },
            faults = unit?.Faults is { } filter
                ? filter.Rules.Select((r, i) => new
                {
                    kind = r.Kind.ToString(),
                    operations = FaultOperationClassifier.Format(r.Operations),
                    description = r.ToString(),
                    hits = filter.Hits[i],
                    remaining = filter.Remaining[i] < 0 ? (int?)null : filter.Remaining[i],
                }).ToArray()
                : [],
            stalled = unit?.Faults?.StalledCount ?? 0,
            media = lun.Media?.State(),
        };
    }
}
