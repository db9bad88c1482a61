using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using StorSharp.Port;

namespace StorSharp.Host.Management;

/// <summary>
/// <c>GET /v1/events?last=N&amp;follow=true&amp;history=true</c>: the event log since the server started (newest
/// <c>last</c> only, when given); with <c>history=true</c>, the persisted JSON-lines file, earlier runs included. With <c>follow=true</c> the answer is a server-sent event stream
/// (<c>text/event-stream</c>): the events so far, then each new one as it is logged, until the
/// client disconnects.
/// </summary>
internal sealed class GetEvents : IManagementOperation
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    public string Method => "GET";
    public string Route => "/v1/events";

    public async Task<IResult> HandleAsync(HttpContext http, ManagementContext context)
    {
        var query = http.Request.Query;
        int? last = null;
        if (query.TryGetValue("last", out var lastText))
        {
            if (!int.TryParse(lastText, out var n) || n < 0) throw ManagementException.BadArgument("last", $"'{lastText}' is not a count of events");
            last = n;
        }
        bool follow = false;
        if (query.TryGetValue("follow", out var followText) && !bool.TryParse(followText, out follow))
            throw ManagementException.BadArgument("follow", $"'{followText}' is not true or false");
        bool history = false;
        if (query.TryGetValue("history", out var historyText) && !bool.TryParse(historyText, out history))
            throw ManagementException.BadArgument("history", $"'{historyText}' is not true or false");
        var log = context.Host.Port.Events;
        if (history && log.FilePath is null)
            throw ManagementException.BadArgument("history", "the server keeps events in memory only (eventLog: off); there is no history from earlier runs");
        if (!follow)
        {
            // history=true: the JSON-lines file, which holds earlier runs too; otherwise this run's events in memory.
            var all = history ? StorSharp.Port.EventLog.ReadFile(log.FilePath!) : log.Snapshot();
            var shown = last is { } l ? all.Skip(Math.Max(0, all.Count - l)) : all;
            return Results.Json(new { events = shown.ToArray() }, Json);
        }

        var channel = Channel.CreateBounded<StorageEvent>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest });
        void OnLogged(StorageEvent e) => channel.Writer.TryWrite(e);
        log.Logged += OnLogged;
        try
        {
            var response = http.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            var backlog = log.Snapshot();
            var start = last is { } l ? Math.Max(0, backlog.Count - l) : 0;
            // Events logged between the subscription and the snapshot arrive twice; skip what the backlog covered.
            var seen = backlog.Count > 0 ? backlog[^1] : null;
            for (int i = start; i < backlog.Count; i++) await WriteAsync(response, backlog[i], http.RequestAborted).ConfigureAwait(false);
            await response.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
            bool skipping = seen is not null;
            await foreach (var e in channel.Reader.ReadAllAsync(http.RequestAborted).ConfigureAwait(false))
            {
                if (skipping)
                {
                    if (ReferenceEquals(e, seen)) skipping = false;
                    if (backlog.Contains(e)) continue;
                    skipping = false;
                }
                await WriteAsync(response, e, http.RequestAborted).ConfigureAwait(false);
                await response.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away: the normal end of a follow.
        }
        finally
        {
            log.Logged -= OnLogged;
        }
        return Results.Empty;
    }

    private static Task WriteAsync(HttpResponse response, StorageEvent e, CancellationToken cancellationToken) =>
        response.WriteAsync($"event: storage\ndata: {JsonSerializer.Serialize(e, Json)}\n\n", cancellationToken);
}
