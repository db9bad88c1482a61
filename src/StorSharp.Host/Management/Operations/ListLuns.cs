using Microsoft.AspNetCore.Http;

namespace StorSharp.Host.Management;

/// <summary><c>GET /v1/luns</c>: every LUN with its state, queue, counters and faults.</summary>
internal sealed class ListLuns : IManagementOperation
{
    public string Method => "GET";
    public string Route => "/v1/luns";

    public Task<IResult> HandleAsync(HttpContext http, ManagementContext context) =>
        Task.FromResult(Results.Json(new { luns = context.Host.Luns.Select(context.Describe).ToArray() }));
}
