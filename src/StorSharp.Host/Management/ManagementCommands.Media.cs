using System.Globalization;
using System.Text.Json;

namespace StorSharp.Host.Management;

/// <summary>The <c>storsharp media</c> subcommands: change and show the disc of a virtual DVD drive.</summary>
public static partial class ManagementCommands
{
    /// <summary>
    /// <c>storsharp media insert TARGET LUN PATH</c>: puts the ISO at <paramref name="path"/> (made
    /// absolute here, against this process's working folder) in the drive, replacing its disc.
    /// </summary>
    public static Task<int> InsertMediaAsync(Endpoint endpoint, string target, int lun, string path, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var body = JsonSerializer.Serialize(new { path = Path.GetFullPath(path) });
            output.WriteLine(FormatMedia(await client.SendAsync(HttpMethod.Post, LunPath(target, lun, "media/insert"), body).ConfigureAwait(false)));
        });

    /// <summary><c>storsharp media eject TARGET LUN [--force]</c>: takes the disc out and leaves the tray open; refused while a host locks the disc, unless <paramref name="force"/>.</summary>
    public static Task<int> EjectMediaAsync(Endpoint endpoint, string target, int lun, bool force, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
            output.WriteLine(FormatMedia(await client.SendAsync(HttpMethod.Post, LunPath(target, lun, "media/eject"), force ? """{"force":true}""" : null).ConfigureAwait(false))));

    /// <summary><c>storsharp media show TARGET LUN [--json]</c>: the drive's tray, disc and lock.</summary>
    public static Task<int> ShowMediaAsync(Endpoint endpoint, string target, int lun, bool json, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var answer = await client.SendAsync(HttpMethod.Get, LunPath(target, lun, "media")).ConfigureAwait(false);
            output.WriteLine(json ? answer.GetRawText() : FormatMedia(answer));
        });

    /// <summary>
    /// One line for a media answer, for example
    /// <c>LUN 0 of iqn.2026-11.io.storsharp:media: disc /srv/a.iso (1800 KiB, cd-rom), tray closed, not locked</c>.
    /// </summary>
    public static string FormatMedia(JsonElement answer)
    {
        var media = answer.GetProperty("media");
        var name = string.Create(CultureInfo.InvariantCulture, $"LUN {answer.GetProperty("lun").GetInt32()} of {answer.GetProperty("target").GetString()}");
        var tray = media.GetProperty("tray").GetString();
        var disc = media.GetProperty("disc").ValueKind == JsonValueKind.String
            ? $"disc {media.GetProperty("disc").GetString()} ({Configuration.SizeParser.Format(media.GetProperty("sizeBytes").GetInt64())}, {media.GetProperty("profile").GetString()})"
            : "no disc";
        var where = media.GetProperty("loaded").GetBoolean() || disc == "no disc" ? "" : " lying in the open tray";
        var locked = media.GetProperty("locked").GetBoolean() ? "locked by a host (PREVENT ALLOW MEDIUM REMOVAL)" : "not locked";
        return $"{name}: {disc}{where}, tray {tray}, {locked}";
    }
}
