using Microsoft.AspNetCore.Http;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>DELETE /v1/luns/{target}/{lun}[?surprise=true]</c>: removes a LUN from the running server (hot
/// plug). Orderly by default: new requests are refused, those accepted drain, then the LU goes
/// (UnitControl Remove). With <c>surprise=true</c> the LU vanishes at once and what is outstanding
/// fails with NO_DEVICE (UnitControl SurpriseRemoval). Answers once the LU is gone (event 1031).
/// </summary>
internal sealed class RemoveLun : IManagementOperation
{
    public string Method => "DELETE";
    public string Route => "/v1/luns/{target}/{lun}";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (target, number) = ManagementContext.LunRoute(http);
        bool surprise = false;
        foreach (var (key, value) in http.Request.Query)
        {
            if (key != "surprise") throw ManagementException.BadArgument(key, "unknown parameter; the only one is surprise=true|false");
            if (value.Count != 1 || !bool.TryParse(value[0], out surprise))
                throw ManagementException.BadArgument("surprise", $"is '{value}'; use true or false");
        }
        ComposedLun lun;
        try
        {
            lun = await context.Host.RemoveLunAsync(target, number, surprise, CancellationToken.None).ConfigureAwait(false);
        }
        catch (LunChangeException e)
        {
            throw ManagementContext.Refused(e);
        }
        return Results.Json(new
        {
            target = lun.Settings.Target,
            lun = lun.Settings.Number,
            adapter = lun.Adapter.Number,
            address = lun.Address.ToString(),
            state = "removed",
            removal = surprise ? "surprise" : "orderly",
            sizeBytes = lun.Device.Geometry.SizeBytes,
        });
    }
}
