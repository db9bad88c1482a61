using Microsoft.AspNetCore.Http;

namespace StorSharp.Host.Management;

/// <summary><c>PUT /v1/luns/{target}/{lun}/queue-depth</c> with <c>{"depth": 1..255}</c>: StorPortSetDeviceQueueDepth (event 1050).</summary>
internal sealed class SetQueueDepth : IManagementOperation
{
    public string Method => "PUT";
    public string Route => "/v1/luns/{target}/{lun}/queue-depth";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (lun, unit) = context.FindLun(http);
        var body = await ManagementContext.ReadObjectAsync(http).ConfigureAwait(false);
        ManagementContext.OnlyFields(body, "depth");
        var depth = ManagementContext.Number(body, "depth", 1, 255) ?? throw ManagementException.BadArgument("depth", "is required (1 to 255)");
        if (depth != Math.Floor(depth)) throw ManagementException.BadArgument("depth", $"is {depth}; it must be a whole number");
        unit.Adapter.Services.SetDeviceQueueDepth(unit.Address, (int)depth);
        return Results.Json(context.Describe(lun));
    }
}
