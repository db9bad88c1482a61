using Microsoft.AspNetCore.Http;

namespace StorSharp.Host.Management;

/// <summary><c>GET /v1/adapters</c>: the adapters with their buses, targets and LUNs (the Storport tree).</summary>
internal sealed class ListAdapters : IManagementOperation
{
    public string Method => "GET";
    public string Route => "/v1/adapters";

    public Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var host = context.Host;
        var iqns = host.Configuration.Targets.Select(t => t.Iqn).ToArray();
        var adapters = host.Port.Adapters.Select(a => new
        {
            number = a.Number,
            device = a.DeviceName,
            miniport = a.Registration.Name,
            state = a.State.ToString(),
            linkDown = a.IsLinkDown,
            buses = a.LogicalUnits.GroupBy(u => u.Address.PathId).Select(bus => new
            {
                pathId = bus.Key,
                targets = bus.GroupBy(u => u.Address.TargetId).Select(t => new
                {
                    targetId = t.Key,
                    iqn = t.Key < iqns.Length ? iqns[t.Key] : null,
                    luns = t.Select(u => host.Luns.FirstOrDefault(l => ReferenceEquals(l.Adapter, a) && l.Address == u.Address) is { } lun
                        ? context.Describe(lun)
                        : new { address = u.Address.ToString(), state = u.IsRemoved ? "removed" : "ready" }).ToArray(),
                }).ToArray(),
            }).ToArray(),
        }).ToArray();
        return Task.FromResult(Results.Json(new { adapters }));
    }
}
