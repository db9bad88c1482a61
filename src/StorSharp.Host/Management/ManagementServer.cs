using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorSharp.Diagnostics.Web;

namespace StorSharp.Host.Management;

/// <summary>
/// The management channel (Storport's ProcessServiceRequest role): an HTTP API, on loopback by
/// default, that lists and changes the running server. Every request must carry the token
/// (<c>Authorization: Bearer TOKEN</c>, or <c>?token=TOKEN</c> from a browser); a bad or missing token gets 401, bad arguments get 400
/// naming the field, and a refused request changes nothing. At start the URL and the token are
/// written to the state file (mode 0600), where <c>storsharp luns</c>, <c>fault</c>,
/// <c>events --follow</c>... find them.
/// </summary>
public sealed class ManagementServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string? _stateFile;

    private ManagementServer(WebApplication app, Uri url, string token, string? stateFile)
    {
        _app = app;
        Url = url;
        Token = token;
        _stateFile = stateFile;
    }

    /// <summary>The base URL the API answers on, for example <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Url { get; }

    /// <summary>The token every request must carry.</summary>
    public string Token { get; }

    /// <summary>The operations served, as <c>METHOD route</c> (for documentation and tests).</summary>
    public static IReadOnlyList<string> Routes => [.. Operations().Select(o => $"{o.Method} {o.Route}")];

    /// <summary>Starts the API for <paramref name="host"/> with <paramref name="settings"/>, and writes the state file.</summary>
    /// <exception cref="HostStartException">The address cannot be bound or the state file cannot be written.</exception>
    public static async Task<ManagementServer> StartAsync(StorSharpHost host, Configuration.ManagementSettings settings, CancellationToken cancellationToken)
    {
        var token = settings.Token ?? NewToken();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "storsharp-management", EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(settings.Listen);
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 65536;
        });
        var app = builder.Build();
        var context = new ManagementContext(host);
        var expected = Encoding.UTF8.GetBytes(token);
        app.Use(async (http, next) =>
        {
            if (!Authorized(http.Request, expected))
            {
                http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                http.Response.Headers.WWWAuthenticate = "Bearer realm=\"storsharp\"";
                await http.Response.WriteAsJsonAsync(new
                {
                    error = "missing or wrong token: send 'Authorization: Bearer TOKEN' with the token from the management state file (storsharp finds it itself)",
                    field = "Authorization",
                }).ConfigureAwait(false);
                return;
            }
            await next(http).ConfigureAwait(false);
        });
        foreach (var operation in Operations())
        {
            app.MapMethods(operation.Route, [operation.Method], async (HttpContext http) =>
            {
                try
                {
                    return await operation.HandleAsync(http, context).ConfigureAwait(false);
                }
                catch (ManagementException e)
                {
                    return Results.Json(new { error = e.Message, field = e.Field }, statusCode: e.Status);
                }
                catch (ArgumentException e)
                {
                    return Results.Json(new { error = e.Message, field = e.ParamName }, statusCode: StatusCodes.Status400BadRequest);
                }
            });
        }
        // The diagnostics: /metrics (Prometheus), /api/perf (event-505 summaries), /api/live (SSE), /dashboard.
        app.MapStorSharpDiagnostics(host.Diagnostics);
        app.MapFallback((HttpContext http) => Results.Json(new
        {
            error = $"no operation {http.Request.Method} {http.Request.Path}; the operations are: {string.Join(", ", Routes)}",
            field = "path",
        }, statusCode: StatusCodes.Status404NotFound));
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new HostStartException($"the management API cannot listen on {settings.Listen}: {e.Message}", e);
        }
        var address = app.Urls.First();
        var url = new Uri(address.EndsWith('/') ? address : address + "/");
        var server = new ManagementServer(app, url, token, settings.StateFile);
        try
        {
            ManagementState.Write(settings.StateFile, new ManagementState(url.ToString(), token, Environment.ProcessId));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw new HostStartException($"cannot write the management state file {settings.StateFile}: {e.Message}", e);
        }
        return server;
    }

    private static IEnumerable<IManagementOperation> Operations() =>
        typeof(ManagementServer).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IManagementOperation).IsAssignableFrom(t))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => (IManagementOperation)Activator.CreateInstance(t)!);

    /// <summary>
    /// The token comes in the <c>Authorization: Bearer</c> header, or, for a browser (the dashboard page and
    /// its event stream, which cannot set headers), in the <c>token</c> query parameter.
    /// </summary>
    private static bool Authorized(HttpRequest request, byte[] expected)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        string? presented = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim()
            : request.Query.TryGetValue("token", out var query) && query.Count == 1 ? query[0] : null;
        if (presented is null) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), expected);
    }

    /// <summary>The dashboard's address, with the token so that a browser can open it.</summary>
    public Uri DashboardUrl => new(Url, $"dashboard?token={Token}");

    private static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>Stops the API and removes the state file (if it is still this process's).</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        if (_stateFile is not null) ManagementState.DeleteIfOurs(_stateFile);
    }
}
