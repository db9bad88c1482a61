using Microsoft.AspNetCore.Http;
using StorSharp.Port;

namespace StorSharp.Host.Management;

/// <summary><c>POST /v1/luns/{target}/{lun}/resume</c>: StorPortResumeDevice; queued I/O starts.</summary>
internal sealed class ResumeLun : IManagementOperation
{
    public string Method => "POST";
    public string Route => "/v1/luns/{target}/{lun}/resume";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (lun, unit) = context.FindLun(http);
        ManagementContext.OnlyFields(await ManagementContext.ReadObjectAsync(http).ConfigureAwait(false));
        unit.Adapter.Services.ResumeDevice(unit.Address);
        unit.Adapter.Log(StorageEventIds.DeviceResumed, EventLevel.Information,
            $"Device {unit.Address} on {unit.Adapter.DeviceName} was resumed by management.", ("Address", unit.Address.ToString()));
        return Results.Json(context.Describe(lun));
    }
}
