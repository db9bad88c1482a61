using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using StorSharp.Port;

namespace StorSharp.Host.Management;

/// <summary>The management API could not be reached or refused a request; the message says why.</summary>
public sealed class ManagementClientException(string message, int exitCode = 1) : Exception(message)
{
    /// <summary>The exit code the CLI returns: 1 for a server or connection problem, 2 for a refused argument.</summary>
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// A client of the management API, as the <c>storsharp</c> subcommands use it. It finds the URL and
/// token in the state file the server wrote (or takes them as given) and turns the API's JSON
/// errors into <see cref="ManagementClientException"/>.
/// </summary>
public sealed class ManagementClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Creates a client for <paramref name="url"/> with <paramref name="token"/>.</summary>
    public ManagementClient(Uri url, string token, TimeSpan? timeout = null)
    {
        _http = new HttpClient { BaseAddress = url, Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary>
    /// A client from explicit <paramref name="url"/> and <paramref name="token"/>, else from the state file
    /// (<paramref name="stateFile"/>, else the default one).
    /// </summary>
    /// <exception cref="ManagementClientException">No running server could be found.</exception>
    public static ManagementClient Locate(string? url, string? token, string? stateFile, TimeSpan? timeout = null)
    {
        if (url is not null && token is not null)
        {
            if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var uri))
                throw new ManagementClientException($"--url: '{url}' is not a URL like http://127.0.0.1:PORT/", 2);
            return new ManagementClient(uri, token, timeout);
        }
        var state = ManagementState.Read(stateFile ?? Configuration.ManagementSettings.DefaultStateFile());
        return new ManagementClient(new Uri(url ?? state.Url), token ?? state.Token, timeout);
    }

    /// <summary>Sends a request and returns the JSON answer.</summary>
    /// <exception cref="ManagementClientException">The server is unreachable or answered an error (its message included).</exception>
    public async Task<JsonElement> SendAsync(HttpMethod method, string path, string? jsonBody = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (jsonBody is not null) request.Content = new StringContent(jsonBody, Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ManagementClientException($"cannot reach the management API at {_http.BaseAddress}: {e.Message} (is the server still running?)");
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            JsonElement json;
            try { json = JsonDocument.Parse(text.Length == 0 ? "{}" : text).RootElement.Clone(); }
            catch (JsonException) { throw new ManagementClientException($"the management API answered {(int)response.StatusCode} with something that is not JSON"); }
            if (!response.IsSuccessStatusCode)
            {
                var message = json.TryGetProperty("error", out var e) ? e.GetString() : response.ReasonPhrase;
                throw new ManagementClientException(message ?? $"HTTP {(int)response.StatusCode}", (int)response.StatusCode is 400 or 404 or 409 ? 2 : 1);
            }
            return json;
        }
    }

    /// <summary>Follows the event stream (<c>GET /v1/events?follow=true</c>), calling <paramref name="onEvent"/> for each event until cancelled or the server stops.</summary>
    public async Task FollowEventsAsync(int? last, Action<StorageEvent> onEvent, CancellationToken cancellationToken)
    {
        var path = "v1/events?follow=true" + (last is { } n ? $"&last={n}" : "");
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ManagementClientException($"cannot reach the management API at {_http.BaseAddress}: {e.Message}");
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                throw new ManagementClientException($"the management API answered {(int)response.StatusCode}: {text}");
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
            var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };
            try
            {
                while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
                {
                    if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                    if (JsonSerializer.Deserialize<StorageEvent>(line["data: ".Length..], options) is { } e) onEvent(e);
                }
            }
            catch (IOException) when (!cancellationToken.IsCancellationRequested)
            {
                // The server stopped: the stream ends.
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();
}
