using Microsoft.AspNetCore.Http;

namespace StorSharp.Host.Management;

/// <summary><c>DELETE /v1/luns/{target}/{lun}/faults</c>: turns fault injection off (stalled requests are released).</summary>
internal sealed class ClearFaults : IManagementOperation
{
    public string Method => "DELETE";
    public string Route => "/v1/luns/{target}/{lun}/faults";

    public Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (lun, unit) = context.FindLun(http);
        unit.SetFaults(null);
        return Task.FromResult(Results.Json(context.Describe(lun)));
    }
}
