using Microsoft.AspNetCore.Http;
using StorSharp.Port;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>POST /v1/adapters/{adapter}/link-down</c> with <c>{"seconds": N}</c>: the link of the adapter
/// goes down now and up after N seconds (StorPortNotification LinkDown / LinkUp). I/O is held up
/// to LinkDownTimeout, then fails until the link is back.
/// </summary>
internal sealed class LinkDown : IManagementOperation
{
    public string Method => "POST";
    public string Route => "/v1/adapters/{adapter}/link-down";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var text = (string?)http.Request.RouteValues["adapter"];
        var adapter = context.Host.Port.Adapters.FirstOrDefault(a => a.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) == text || a.Name == text)
            ?? throw ManagementException.NotFound("adapter", $"there is no adapter '{text}'; GET /v1/adapters lists them");
        var body = await ManagementContext.ReadObjectAsync(http).ConfigureAwait(false);
        ManagementContext.OnlyFields(body, "seconds");
        var seconds = ManagementContext.Number(body, "seconds", 0.001, 3600) ?? throw ManagementException.BadArgument("seconds", "is required: how long the link stays down");
        if (adapter.IsLinkDown) throw new ManagementException(StatusCodes.Status409Conflict, $"the link of {adapter.DeviceName} is already down", "adapter");
        FaultActions.LinkDownFor(adapter, TimeSpan.FromSeconds(seconds));
        return Results.Json(new { adapter = adapter.DeviceName, linkDown = true, seconds, linkDownTimeoutSeconds = adapter.Tunables.LinkDownTimeout.TotalSeconds });
    }
}
