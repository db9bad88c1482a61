using Microsoft.AspNetCore.Http;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>POST /v1/luns/{target}/{lun}/media/eject</c> with <c>{"force": false}</c> (optional): takes the
/// disc out of a DVD drive and leaves the tray open (hosts read MEDIUM NOT PRESENT - TRAY OPEN; event
/// 1071). Like the eject button of a real drive, it is refused while a host prevents medium removal:
/// 409, the disc stays, and the hosts are sent the EjectRequest media event (event 1072). <c>force</c>
/// takes the disc out anyway, like a real drive's emergency eject.
/// </summary>
internal sealed class EjectMedia : IManagementOperation
{
    public string Method => "POST";
    public string Route => "/v1/luns/{target}/{lun}/media/eject";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (lun, unit, media) = MediaLuns.Find(http, context);
        var body = await ManagementContext.ReadObjectAsync(http).ConfigureAwait(false);
        ManagementContext.OnlyFields(body, "force");
        var force = MediaLuns.Bool(body, "force") ?? false;
        try { await media.EjectAsync(force, unit, http.RequestAborted).ConfigureAwait(false); }
        catch (LunChangeException e) { throw ManagementContext.Refused(e); }
        return MediaLuns.Answer(lun, media);
    }
}
