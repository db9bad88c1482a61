using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using StorSharp.Host.Management;

namespace StorSharp.Cli;

/// <summary>
/// <c>storsharp lun add | remove | resize</c>: hot plug through the management API. <c>lun add</c>
/// turns its options into a <c>luns[]</c> entry (or takes one as <c>--json</c>); the server checks it
/// with the configuration's validator, so errors name the field.
/// </summary>
internal static class LunCommands
{
    public static Command Build()
    {
        var command = ManagementCommandLine.GroupCommand("lun", "Add, remove or resize a LUN of the running server (hot plug): lun add | remove | resize (see docs/management.md).", out var endpoint);
        command.Add(Add(endpoint));
        command.Add(Remove(endpoint));
        command.Add(Resize(endpoint));
        return command;
    }

    private static Command Add(Func<ParseResult, ManagementCommands.Endpoint> endpoint)
    {
        var (target, lun) = ManagementCommandLine.LunArguments();
        var backend = new Option<string>("--backend") { Description = "ram, file, image or nbd. Default: ram.", HelpName = "KIND" };
        var size = new Option<string>("--size") { Description = "The size (ram; file with --create): bytes, or with K, M, G, T.", HelpName = "SIZE" };
        var path = new Option<string>("--path") { Description = "The file or image (file, image backends).", HelpName = "PATH" };
        var create = new Option<bool>("--create") { Description = "Create the file (sparse, --size) if it does not exist." };
        var format = new Option<string>("--format") { Description = "The image format (image backend). Default: auto.", HelpName = "FORMAT" };
        var uri = new Option<string>("--uri") { Description = "The NBD export to serve (nbd backend): nbd://host:port/name.", HelpName = "URI" };
        var blockSize = new Option<int?>("--block-size") { Description = "512 or 4096. Default: 512.", HelpName = "512|4096" };
        var readOnly = new Option<bool>("--read-only") { Description = "Serve the LUN write-protected." };
        var productId = new Option<string>("--product-id") { Description = "INQUIRY product identification.", HelpName = "TEXT" };
        var serial = new Option<string>("--serial") { Description = "The unit serial number (VPD page 80).", HelpName = "TEXT" };
        var export = new Option<string>("--export") { Description = "The NBD export name. Default: the IQN's last part and -lunN (disk0-lun1).", HelpName = "NAME" };
        var noExport = new Option<bool>("--no-export") { Description = "Do not serve the LUN over NBD." };
        var json = new Option<string>("--json") { Description = "The LUN as JSON, in the shape of a luns[] entry (with export), instead of the options above.", HelpName = "JSON" };
        var command = new Command("add", "Add a disk LUN to a target of the running server; iSCSI sessions and NBD see it at once.")
            { target, lun, backend, size, path, create, format, uri, blockSize, readOnly, productId, serial, export, noExport, json };
        command.SetAction(parse =>
        {
            var io = parse.InvocationConfiguration;
            string body;
            var given = new JsonObject();
            void Text(Option<string> option, string field) { if (parse.GetValue(option) is { } v) given[field] = v; }
            Text(backend, "backend");
            Text(size, "size");
            if (parse.GetValue(path) is { } p) given["path"] = Path.GetFullPath(p); // the server's folder is not ours
            if (parse.GetValue(create)) given["create"] = true;
            Text(format, "format");
            Text(uri, "uri");
            if (parse.GetValue(blockSize) is { } bs) given["blockSize"] = bs;
            if (parse.GetValue(readOnly)) given["readOnly"] = true;
            Text(productId, "productId");
            Text(serial, "serial");
            Text(export, "export");
            if (parse.GetValue(noExport))
            {
                if (given.ContainsKey("export")) return Usage(io, "--export and --no-export cannot be combined");
                given["export"] = false;
            }
            if (parse.GetValue(json) is { } entry)
            {
                if (given.Count > 0) return Usage(io, "--json replaces the other options; give the fields in the JSON");
                body = entry;
            }
            else body = given.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
            return ManagementCommands.AddLunAsync(endpoint(parse), parse.GetValue(target)!, parse.GetValue(lun), body, io.Output, io.Error);
        });
        return command;
    }

    private static Command Remove(Func<ParseResult, ManagementCommands.Endpoint> endpoint)
    {
        var (target, lun) = ManagementCommandLine.LunArguments();
        var surprise = new Option<bool>("--surprise") { Description = "Surprise removal: the LUN vanishes at once and outstanding I/O fails (default: orderly, I/O drains first)." };
        var command = new Command("remove", "Remove a LUN from the running server (orderly: new I/O refused, outstanding I/O drained).") { target, lun, surprise };
        command.SetAction(parse => ManagementCommands.RemoveLunAsync(endpoint(parse), parse.GetValue(target)!, parse.GetValue(lun), parse.GetValue(surprise),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    private static Command Resize(Func<ParseResult, ManagementCommands.Endpoint> endpoint)
    {
        var (target, lun) = ManagementCommandLine.LunArguments();
        var size = new Argument<string>("SIZE") { Description = "The new size, larger than now: bytes, or with K, M, G, T." };
        var command = new Command("resize", "Grow a ram or file LUN (CAPACITY DATA HAS CHANGED to every initiator; NBD clients see it on reconnect).") { target, lun, size };
        command.SetAction(parse => ManagementCommands.ResizeLunAsync(endpoint(parse), parse.GetValue(target)!, parse.GetValue(lun), parse.GetValue(size)!,
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    private static Task<int> Usage(InvocationConfiguration io, string message)
    {
        io.Error.WriteLine($"storsharp lun add: {message}");
        return Task.FromResult(2);
    }
}
