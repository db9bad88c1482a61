using Microsoft.AspNetCore.Http;
using StorSharp.Port;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>POST /v1/luns/{target}/{lun}/pause</c> with <c>{"seconds": N}</c> (optional, default 3600):
/// StorPortPauseDevice. New I/O waits in the port's queue; outstanding I/O finishes. The LU timer
/// keeps running for what is outstanding, so a pause longer than the I/O timeout does not cause resets.
/// </summary>
internal sealed class PauseLun : IManagementOperation
{
    public string Method => "POST";
    public string Route => "/v1/luns/{target}/{lun}/pause";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (lun, unit) = context.FindLun(http);
        var body = await ManagementContext.ReadObjectAsync(http).ConfigureAwait(false);
        ManagementContext.OnlyFields(body, "seconds");
        var seconds = ManagementContext.Number(body, "seconds", 0.001, 86400) ?? 3600;
        unit.Adapter.Services.PauseDevice(unit.Address, TimeSpan.FromSeconds(seconds));
        unit.Adapter.Log(StorageEventIds.DevicePaused, EventLevel.Information,
            $"Device {unit.Address} on {unit.Adapter.DeviceName} was paused for up to {seconds:0.###} s by management.",
            ("Address", unit.Address.ToString()), ("Seconds", seconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)));
        return Results.Json(context.Describe(lun));
    }
}
