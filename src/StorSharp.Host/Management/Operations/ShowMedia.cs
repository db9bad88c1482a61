using Microsoft.AspNetCore.Http;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>GET /v1/luns/{target}/{lun}/media</c>: a DVD drive's state: tray open or closed, the disc's file
/// and size, whether hosts can read it, and whether a host locked it in (PREVENT ALLOW MEDIUM REMOVAL).
/// </summary>
internal sealed class ShowMedia : IManagementOperation
{
    public string Method => "GET";
    public string Route => "/v1/luns/{target}/{lun}/media";

    public Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (lun, _, media) = MediaLuns.Find(http, context);
        return Task.FromResult(MediaLuns.Answer(lun, media));
    }
}
