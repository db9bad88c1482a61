using System.Globalization;
using System.Text;
using System.Text.Json;

namespace StorSharp.Host.Management;

/// <summary>
/// What the <c>storsharp</c> management subcommands do (the CLI only parses): each sends one
/// request to the running server's management API and prints the answer for people.
/// Exit codes: 0 done, 1 the server could not be reached, 2 the request was refused (bad argument, unknown LUN).
/// </summary>
public static partial class ManagementCommands
{
    /// <summary>How to reach the server: explicit URL and token, or a state file (the default one when all are null).</summary>
    /// <param name="Url">The API's URL.</param>
    /// <param name="Token">The token.</param>
    /// <param name="StateFile">The state file the server wrote.</param>
    public sealed record Endpoint(string? Url, string? Token, string? StateFile);

    /// <summary><c>storsharp luns</c>: one line per LUN with its state, queue and faults.</summary>
    public static Task<int> ListLunsAsync(Endpoint endpoint, bool json, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var answer = await client.SendAsync(HttpMethod.Get, "v1/luns").ConfigureAwait(false);
            if (json) { output.WriteLine(answer.GetRawText()); return; }
            output.WriteLine("TARGET                                   LUN  ADDRESS  STATE      SIZE        QD  OUT  DONE     FAILED  RESETS  FAULTS");
            foreach (var lun in answer.GetProperty("luns").EnumerateArray()) output.WriteLine(FormatLun(lun));
        });

    /// <summary>The one-line form of a LUN as <c>storsharp luns</c> prints it.</summary>
    public static string FormatLun(JsonElement lun)
    {
        var c = lun.GetProperty("counters");
        var faults = string.Join("; ", lun.GetProperty("faults").EnumerateArray().Select(f => f.GetProperty("description").GetString()));
        return string.Create(CultureInfo.InvariantCulture,
            $"{lun.GetProperty("target").GetString(),-40} {lun.GetProperty("lun").GetInt32(),3}  {lun.GetProperty("address").GetString(),-7}  {lun.GetProperty("state").GetString(),-9}  {Configuration.SizeParser.Format(lun.GetProperty("sizeBytes").GetInt64()),-10}  {lun.GetProperty("queueDepth").GetInt32(),3}  {lun.GetProperty("outstanding").GetInt32(),3}  {c.GetProperty("completed").GetInt64(),-7}  {c.GetProperty("failed").GetInt64(),6}  {c.GetProperty("resets").GetInt64(),6}  {(faults.Length == 0 ? "-" : faults)}");
    }

    /// <summary><c>storsharp adapters</c>: the JSON tree of adapters, buses, targets and LUNs.</summary>
    public static Task<int> ListAdaptersAsync(Endpoint endpoint, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var answer = await client.SendAsync(HttpMethod.Get, "v1/adapters").ConfigureAwait(false);
            foreach (var a in answer.GetProperty("adapters").EnumerateArray())
            {
                output.WriteLine($"{a.GetProperty("device").GetString()} ({a.GetProperty("miniport").GetString()}) {a.GetProperty("state").GetString()}{(a.GetProperty("linkDown").GetBoolean() ? ", link down" : "")}");
                foreach (var bus in a.GetProperty("buses").EnumerateArray())
                {
                    output.WriteLine($"  bus {bus.GetProperty("pathId").GetInt32()}");
                    foreach (var t in bus.GetProperty("targets").EnumerateArray())
                    {
                        output.WriteLine($"    target {t.GetProperty("targetId").GetInt32()} {t.GetProperty("iqn").GetString()}");
                        foreach (var lun in t.GetProperty("luns").EnumerateArray())
                            output.WriteLine($"      {lun.GetProperty("address").GetString()} {lun.GetProperty("state").GetString()}{(lun.TryGetProperty("lun", out var n) ? $" (LUN {n.GetInt32()})" : "")}");
                    }
                }
            }
        });

    /// <summary>
    /// <c>storsharp fault set TARGET LUN RULES</c>: replaces the LUN's fault rules with
    /// <paramref name="rulesJson"/> (a JSON list in the shape of <c>luns[].faults</c>).
    /// </summary>
    public static Task<int> SetFaultsAsync(Endpoint endpoint, string target, int lun, string rulesJson, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var answer = await client.SendAsync(HttpMethod.Put, LunPath(target, lun, "faults"), rulesJson).ConfigureAwait(false);
            output.WriteLine(FormatLun(answer));
        });

    /// <summary><c>storsharp fault clear TARGET LUN</c>.</summary>
    public static Task<int> ClearFaultsAsync(Endpoint endpoint, string target, int lun, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client => output.WriteLine(FormatLun(await client.SendAsync(HttpMethod.Delete, LunPath(target, lun, "faults")).ConfigureAwait(false))));

    /// <summary><c>storsharp fault link-down SECONDS [--adapter N]</c>.</summary>
    public static Task<int> LinkDownAsync(Endpoint endpoint, int adapter, double seconds, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var answer = await client.SendAsync(HttpMethod.Post, $"v1/adapters/{adapter}/link-down", Body(("seconds", seconds))).ConfigureAwait(false);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"The link of {answer.GetProperty("adapter").GetString()} is down for {seconds:0.###} s (LinkDownTimeout {answer.GetProperty("linkDownTimeoutSeconds").GetDouble():0.###} s)."));
        });

    /// <summary><c>storsharp fault drop-connections TARGET LUN</c>.</summary>
    public static Task<int> DropConnectionsAsync(Endpoint endpoint, string target, int lun, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var answer = await client.SendAsync(HttpMethod.Post, LunPath(target, lun, "drop-connections")).ConfigureAwait(false);
            output.WriteLine($"Connections to LUN {lun} of {target} dropped ({answer.GetProperty("frontEndsTold").GetInt32()} front end(s) told).");
        });

    /// <summary><c>storsharp pause TARGET LUN [--seconds N]</c>.</summary>
    public static Task<int> PauseAsync(Endpoint endpoint, string target, int lun, double? seconds, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client => output.WriteLine(FormatLun(await client.SendAsync(HttpMethod.Post, LunPath(target, lun, "pause"), seconds is { } s ? Body(("seconds", s)) : null).ConfigureAwait(false))));

    /// <summary><c>storsharp resume TARGET LUN</c>.</summary>
    public static Task<int> ResumeAsync(Endpoint endpoint, string target, int lun, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client => output.WriteLine(FormatLun(await client.SendAsync(HttpMethod.Post, LunPath(target, lun, "resume")).ConfigureAwait(false))));

    /// <summary><c>storsharp queue-depth TARGET LUN DEPTH</c>.</summary>
    public static Task<int> SetQueueDepthAsync(Endpoint endpoint, string target, int lun, int depth, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client => output.WriteLine(FormatLun(await client.SendAsync(HttpMethod.Put, LunPath(target, lun, "queue-depth"), Body(("depth", depth))).ConfigureAwait(false))));

    /// <summary><c>storsharp events --follow</c>: the server's events so far (or the newest <paramref name="last"/>), then each new one, until Ctrl+C.</summary>
    public static Task<int> FollowEventsAsync(Endpoint endpoint, int? last, TextWriter output, TextWriter error, CancellationToken cancellationToken) =>
        RunAsync(endpoint, error, async client =>
        {
            try
            {
                await client.FollowEventsAsync(last, e => { output.WriteLine(EventsPrinter.Format(e)); output.Flush(); }, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// <c>storsharp lun add TARGET LUN</c>: adds a LUN to the running server. <paramref name="entryJson"/>
    /// is a <c>luns[]</c> entry as JSON (with <c>export</c>: the NBD export name, or false).
    /// </summary>
    public static Task<int> AddLunAsync(Endpoint endpoint, string target, int lun, string entryJson, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var answer = await client.SendAsync(HttpMethod.Post, LunPath(target, lun, null), entryJson).ConfigureAwait(false);
            var added = answer.GetProperty("lun");
            var export = answer.GetProperty("nbdExport");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Added LUN {lun} of {added.GetProperty("target").GetString()} at {added.GetProperty("address").GetString()} on adapter {added.GetProperty("adapter").GetInt32()}: {Configuration.SizeParser.Format(added.GetProperty("sizeBytes").GetInt64())}{(export.ValueKind == JsonValueKind.String ? $", NBD export {export.GetString()}" : "")}."));
        });

    /// <summary><c>storsharp lun remove TARGET LUN [--surprise]</c>: removes a LUN (orderly: its I/O drains first).</summary>
    public static Task<int> RemoveLunAsync(Endpoint endpoint, string target, int lun, bool surprise, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var answer = await client.SendAsync(HttpMethod.Delete, LunPath(target, lun, null) + (surprise ? "?surprise=true" : "")).ConfigureAwait(false);
            output.WriteLine($"Removed LUN {lun} of {answer.GetProperty("target").GetString()} ({answer.GetProperty("address").GetString()}, {(surprise ? "surprise removal: outstanding I/O failed" : "orderly: outstanding I/O drained")}).");
        });

    /// <summary><c>storsharp lun resize TARGET LUN SIZE</c>: grows a LUN.</summary>
    public static Task<int> ResizeLunAsync(Endpoint endpoint, string target, int lun, string size, TextWriter output, TextWriter error) =>
        RunAsync(endpoint, error, async client =>
        {
            var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["size"] = size });
            output.WriteLine(FormatLun(await client.SendAsync(HttpMethod.Put, LunPath(target, lun, "size"), body).ConfigureAwait(false)));
        });

    private static string LunPath(string target, int lun, string? operation) =>
        $"v1/luns/{Uri.EscapeDataString(target)}/{lun.ToString(CultureInfo.InvariantCulture)}{(operation is null ? "" : "/" + operation)}";

    private static string Body(params (string Name, double Value)[] fields)
    {
        var text = new StringBuilder("{");
        text.AppendJoin(',', fields.Select(f => string.Create(CultureInfo.InvariantCulture, $"\"{f.Name}\":{f.Value}")));
        return text.Append('}').ToString();
    }

    private static async Task<int> RunAsync(Endpoint endpoint, TextWriter error, Func<ManagementClient, Task> action, TimeSpan? timeout = null)
    {
        try
        {
            using var client = ManagementClient.Locate(endpoint.Url, endpoint.Token, endpoint.StateFile, timeout);
            await action(client).ConfigureAwait(false);
            return ServeRunner.ExitOk;
        }
        catch (ManagementClientException e)
        {
            await error.WriteLineAsync($"storsharp: {e.Message}").ConfigureAwait(false);
            return e.ExitCode;
        }
    }
}
