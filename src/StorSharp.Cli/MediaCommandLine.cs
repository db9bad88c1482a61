using System.CommandLine;
using StorSharp.Host.Management;

namespace StorSharp.Cli;

/// <summary>
/// <c>storsharp media insert | eject | show</c>: change or show the disc of a virtual DVD drive
/// (<c>device: dvd</c>) of a running server, through its management API.
/// </summary>
internal static class MediaCommandLine
{
    public static Command Create()
    {
        var command = ManagementCommandLine.GroupCommand("media", "Change the disc of a virtual DVD drive (device: dvd) of the running server: media insert TARGET LUN PATH | eject TARGET LUN [--force] | show TARGET LUN [--json] (see docs/devices.md).", out var endpoint);

        var (target, lun) = ManagementCommandLine.LunArguments();
        var path = new Argument<string>("PATH") { Description = "The ISO image (whole 2048-byte sectors), opened read-only by the server." };
        var insert = new Command("insert", "Put an ISO in the drive and close the tray, replacing its disc; hosts get UNIT ATTENTION 28h/00h (NOT READY TO READY CHANGE). Refused while a host locks the loaded disc.") { target, lun, path };
        insert.SetAction(parse => ManagementCommands.InsertMediaAsync(endpoint(parse), parse.GetValue(target)!, parse.GetValue(lun), parse.GetValue(path)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        command.Add(insert);

        var (target2, lun2) = ManagementCommandLine.LunArguments();
        var force = new Option<bool>("--force") { Description = "Take the disc out even while a host prevents medium removal (a real drive's emergency eject)." };
        var eject = new Command("eject", "Take the disc out and leave the tray open. While a host locks it (PREVENT ALLOW MEDIUM REMOVAL) the disc stays, the hosts are sent an eject request and the command fails, unless --force.") { target2, lun2, force };
        eject.SetAction(parse => ManagementCommands.EjectMediaAsync(endpoint(parse), parse.GetValue(target2)!, parse.GetValue(lun2), parse.GetValue(force), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        command.Add(eject);

        var (target3, lun3) = ManagementCommandLine.LunArguments();
        var json = new Option<bool>("--json") { Description = "Print the API's JSON answer." };
        var show = new Command("show", "Show the drive: its disc (file, size, CD-ROM or DVD-ROM), the tray, and whether a host locks the disc.") { target3, lun3, json };
        show.SetAction(parse => ManagementCommands.ShowMediaAsync(endpoint(parse), parse.GetValue(target3)!, parse.GetValue(lun3), parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        command.Add(show);
        return command;
    }
}
