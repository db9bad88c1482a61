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
        unit.Adapter.Events.Write(new StorageEvent(StorageEventIds.DeviceResumed, unit.Adapter.Time.GetUtcNow(), EventLevel.Information,
            unit.Adapter.Registration.Name, unit.Adapter.DeviceName,
            $"Device {unit.Address} on {unit.Adapter.DeviceName} was resumed by management.",
            new Dictionary<string, string> { ["Address"] = unit.Address.ToString() }));
        return Results.Json(context.Describe(lun));
    }
}
