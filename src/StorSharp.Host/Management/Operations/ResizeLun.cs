using System.Text.Json;
using Microsoft.AspNetCore.Http;
using StorSharp.Host.Configuration;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>PUT /v1/luns/{target}/{lun}/size</c> with <c>{"size": "2G"}</c> (or a number of bytes): grows a
/// ram or file LUN while it runs. Its I/O pauses while the backend grows; every nexus then gets
/// CAPACITY DATA HAS CHANGED (2A/09) and new NBD connections see the new size. Shrinking is refused.
/// </summary>
internal sealed class ResizeLun : IManagementOperation
{
    public string Method => "PUT";
    public string Route => "/v1/luns/{target}/{lun}/size";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (target, number) = ManagementContext.LunRoute(http);
        if (context.Host.FindLun(target, number) is null)
            throw ManagementException.NotFound("target", $"there is no LUN {number} behind target '{target}'; GET /v1/luns lists them");
        var body = await ManagementContext.ReadObjectAsync(http).ConfigureAwait(false);
        ManagementContext.OnlyFields(body, "size");
        if (!body.TryGetProperty("size", out var value) || value.ValueKind == JsonValueKind.Null)
            throw ManagementException.BadArgument("size", "is required: the new size, in bytes or with K, M, G, T (for example 2G)");
        long size;
        if (value.ValueKind == JsonValueKind.Number)
        {
            if (!value.TryGetInt64(out size)) throw ManagementException.BadArgument("size", $"{value.GetRawText()} is not a whole number of bytes");
        }
        else if (value.ValueKind != JsonValueKind.String || !SizeParser.TryParse(value.GetString()!, out size, out var problem))
            throw ManagementException.BadArgument("size", value.ValueKind == JsonValueKind.String ? SizeProblem(value.GetString()!) : "expected a size such as 2G or a number of bytes");
        ComposedLun lun;
        try
        {
            lun = await context.Host.ResizeLunAsync(target, number, size, CancellationToken.None).ConfigureAwait(false);
        }
        catch (LunChangeException e)
        {
            throw ManagementContext.Refused(e);
        }
        return Results.Json(context.Describe(lun));
    }

    private static string SizeProblem(string text)
    {
        SizeParser.TryParse(text, out _, out var problem);
        return problem;
    }
}
