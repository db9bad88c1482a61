using Microsoft.AspNetCore.Http;
using StorSharp.Host.Configuration;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>POST /v1/luns/{target}/{lun}/media/insert</c> with <c>{"path": "/abs/disc.iso"}</c>: puts an ISO
/// in a DVD drive and closes the tray, replacing the disc there. The file is opened read-only, byte
/// for byte, as a configured <c>backend: file</c> disc is; it must be whole 2048-byte sectors. Hosts
/// get UNIT ATTENTION NOT READY TO READY CHANGE (28h/00h) and the NewMedia event; event 1070.
/// 409 when a host has locked the loaded disc in.
/// </summary>
internal sealed class InsertMedia : IManagementOperation
{
    public string Method => "POST";
    public string Route => "/v1/luns/{target}/{lun}/media/insert";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var (lun, unit, media) = MediaLuns.Find(http, context);
        var body = await ManagementContext.ReadObjectAsync(http).ConfigureAwait(false);
        ManagementContext.OnlyFields(body, "path");
        if (!body.TryGetProperty("path", out var value) || value.ValueKind == System.Text.Json.JsonValueKind.Null)
            throw ManagementException.BadArgument("path", "is required: the ISO image to put in the drive");
        if (value.ValueKind != System.Text.Json.JsonValueKind.String || value.GetString() is not { Length: > 0 } path)
            throw ManagementException.BadArgument("path", "expected the ISO image's file name as a non-empty string");
        if (!Path.IsPathFullyQualified(path))
            throw ManagementException.BadArgument("path", $"'{path}' is relative; give an absolute path (the server's working folder is not the client's; storsharp media insert makes it absolute)");
        if (DiscImageFile.Problem(path, path) is { } problem) throw ManagementException.BadArgument("path", problem);
        try { await media.InsertAsync(path, unit, http.RequestAborted).ConfigureAwait(false); }
        catch (LunChangeException e) { throw ManagementContext.Refused(e); }
        return MediaLuns.Answer(lun, media);
    }
}
