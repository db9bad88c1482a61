using System.Text.Json;
using Microsoft.AspNetCore.Http;
using StorSharp.Port;

namespace StorSharp.Host.Management;

/// <summary>What the media operations (<see cref="ShowMedia"/>, <see cref="InsertMedia"/>, <see cref="EjectMedia"/>) share: finding the DVD drive a route names, and their answer.</summary>
internal static class MediaLuns
{
    /// <summary>The <c>device: dvd</c> LUN the route names, its port LU and its drive.</summary>
    /// <exception cref="ManagementException">404 for an unknown LUN; 400 (<c>lun</c>) when the LUN is not a DVD drive.</exception>
    public static (ComposedLun Lun, LogicalUnit Unit, DvdMedia Media) Find(HttpContext http, ManagementContext context)
    {
        var (lun, unit) = context.FindLun(http);
        var media = lun.Media ?? throw ManagementException.BadArgument("lun",
            $"LUN {lun.Settings.Number} of {lun.Settings.Target} is a {lun.Settings.Device.ToString().ToLowerInvariant()}, not a dvd drive; only device: dvd LUNs take media");
        return (lun, unit, media);
    }

    /// <summary>The answer of every media operation: the LUN and its drive's state.</summary>
    public static IResult Answer(ComposedLun lun, DvdMedia media) =>
        Results.Json(new { target = lun.Settings.Target, lun = lun.Settings.Number, address = lun.Address.ToString(), media = media.State() });

    /// <summary>An optional boolean field of <paramref name="body"/>.</summary>
    public static bool? Bool(JsonElement body, string field)
    {
        if (!body.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ManagementException.BadArgument(field, $"expected true or false, found {value.ValueKind.ToString().ToLowerInvariant()}"),
        };
    }
}
