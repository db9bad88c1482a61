using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using StorSharp.Host.Configuration;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>POST /v1/luns/{target}/{lun}</c>: adds a disk LUN to the running server (hot plug). The body
/// is a <c>luns[]</c> entry of the configuration (<c>{"backend": "ram", "size": "1G"}</c>; target and
/// number come from the route), checked by the configuration's validator, plus <c>export</c>: the
/// NBD export name to serve it as (default <c>SUFFIX-lunN</c>, SUFFIX the IQN after its last colon),
/// or <c>false</c> for none. Answers 201 with the LUN and its export.
/// </summary>
internal sealed class AddLun : IManagementOperation
{
    public string Method => "POST";
    public string Route => "/v1/luns/{target}/{lun}";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var host = context.Host;
        var (target, number) = ManagementContext.LunRoute(http);
        var iqn = host.Configuration.Targets.FirstOrDefault(t => string.Equals(t.Iqn, target, StringComparison.OrdinalIgnoreCase))?.Iqn
            ?? throw ManagementException.NotFound("target", $"there is no target '{target}'; the targets are {string.Join(", ", host.Configuration.Targets.Select(t => t.Iqn))}");
        if (host.FindLun(iqn, number) is not null)
            throw new ManagementException(StatusCodes.Status409Conflict, $"LUN {number} of {iqn} exists; remove it first or pick another number", "lun");
        var body = await ManagementContext.ReadObjectAsync(http).ConfigureAwait(false);
        var export = Export(body, iqn, number, host.Configuration.Nbd.Enabled && host.Nbd is not null);

        LunSettings settings;
        try
        {
            settings = ConfigurationLoader.ParseLun(body.GetRawText(), host.Configuration, [.. host.Luns.Select(l => l.Settings)], iqn, number, ["export"], Directory.GetCurrentDirectory());
        }
        catch (ConfigurationException e)
        {
            var first = e.Errors[0];
            throw ManagementException.BadArgument(first.Field.Length == 0 ? "body" : first.Field, string.Join("; ", e.Errors.Select(x => x.Field.Length == 0 || x == first ? x.Message : $"{x.Field}: {x.Message}")));
        }
        ComposedLun lun;
        try
        {
            lun = await host.AddLunAsync(settings, export, http.RequestAborted).ConfigureAwait(false);
        }
        catch (LunChangeException e)
        {
            throw ManagementContext.Refused(e);
        }
        return Results.Json(new { lun = context.Describe(lun), nbdExport = export?.Name }, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>The <c>export</c> field: a name, <c>false</c> (none), or absent (the default name when NBD is on).</summary>
    private static NbdExportSettings? Export(JsonElement body, string iqn, int number, bool nbdOn)
    {
        if (!body.TryGetProperty("export", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (!nbdOn) return null;
            var suffix = iqn[(iqn.LastIndexOf(':') + 1)..];
            return new NbdExportSettings { Name = $"{(suffix.Length == 0 ? "lun" : suffix)}-lun{number}", Target = iqn, Lun = number };
        }
        if (value.ValueKind == JsonValueKind.False) return null;
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } name)
            throw ManagementException.BadArgument("export", "expected an NBD export name, or false for none");
        if (Encoding.UTF8.GetByteCount(name) > 4096) throw ManagementException.BadArgument("export", "must be at most 4096 bytes (NBD limit)");
        if (!nbdOn) throw new ManagementException(StatusCodes.Status409Conflict, "export: NBD is off on this server; leave export out", "export");
        return new NbdExportSettings { Name = name, Target = iqn, Lun = number };
    }
}
