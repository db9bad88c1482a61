using Microsoft.AspNetCore.Http;
using StorSharp.Port;

namespace StorSharp.Host.Management;

/// <summary><c>POST /v1/luns/{target}/{lun}/drop-connections</c>: the front ends close every connection that uses the LU (event 1062).</summary>
internal sealed class DropConnections : IManagementOperation
{
    public string Method => "POST";
    public string Route => "/v1/luns/{target}/{lun}/drop-connections";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (lun, unit) = context.FindLun(http);
        ManagementContext.OnlyFields(await ManagementContext.ReadObjectAsync(http).ConfigureAwait(false));
        int frontEnds = FaultActions.DropConnections(unit);
        return Results.Json(new { lun = context.Describe(lun), frontEndsTold = frontEnds });
    }
}
