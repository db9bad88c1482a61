using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace StorSharp.Diagnostics.Tests;

/// <summary>A fact that needs Debian's <c>chromium</c>; skipped, with the reason, when it is not installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (DashboardBrowserTests.Chromium() is null) Skip = "needs chromium (apt-get install chromium; scripts/test.sh installs it as root)";
    }
}

/// <summary>The dashboard in headless Chromium, under load, driven over the DevTools protocol.</summary>
public sealed partial class DashboardBrowserTests
{
    internal static string? Chromium() =>
        new[] { "chromium", "chromium-browser" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex DevToolsLine();

    [ChromiumFact]
    public async Task The_dashboard_shows_live_numbers_that_change_under_load()
    {
        await using var h = await WebHarness.StartAsync();
        h.StartLoad();
        var profile = Directory.CreateTempSubdirectory("storsharp-chromium-");
        var start = new ProcessStartInfo(Chromium()!)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            ArgumentList =
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", $"--user-data-dir={profile.FullName}",
                "--window-size=1280,1000", new Uri(h.BaseAddress, "/dashboard").ToString(),
            },
        };
        using var chromium = Process.Start(start)!;
        try
        {
            string? browserUrl = null;
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                while (browserUrl is null)
                {
                    var line = await chromium.StandardError.ReadLineAsync(cts.Token) ?? throw new InvalidOperationException("chromium exited before DevTools listened");
                    if (DevToolsLine().Match(line) is { Success: true } m) browserUrl = m.Groups[1].Value;
                }
            }
            _ = chromium.StandardError.ReadToEndAsync(); // keep draining
            var debug = new Uri(browserUrl);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            string? pageUrl = null;
            for (int i = 0; i < 100 && pageUrl is null; i++)
            {
                using var list = JsonDocument.Parse(await http.GetStringAsync($"http://{debug.Authority}/json/list"));
                pageUrl = list.RootElement.EnumerateArray()
                    .Where(t => t.GetProperty("type").GetString() == "page" && t.GetProperty("url").GetString()!.Contains("/dashboard"))
                    .Select(t => t.GetProperty("webSocketDebuggerUrl").GetString()).FirstOrDefault();
                if (pageUrl is null) await Task.Delay(100);
            }
            Assert.NotNull(pageUrl);
            using var page = new DevTools(new Uri(pageUrl));
            await page.ConnectAsync();

            async Task<(long Samples, double Iops, string Units)> ReadAsync()
            {
                var result = await page.EvaluateAsync(
                    "JSON.stringify([document.getElementById('samples').textContent, document.getElementById('iops').textContent, document.querySelector('#units tbody').textContent])");
                if (result.Length == 0) return (0, 0, "");
                using var values = JsonDocument.Parse(result);
                return (long.Parse(values.RootElement[0].GetString()!), double.Parse(values.RootElement[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture), values.RootElement[2].GetString()!);
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            var first = await ReadAsync();
            while (first.Samples < 2 && DateTime.UtcNow < deadline) { await Task.Delay(200); first = await ReadAsync(); }
            Assert.True(first.Samples >= 2, $"the page received {first.Samples} updates");
            var later = first;
            while ((later.Samples < first.Samples + 3 || later.Iops <= 0) && DateTime.UtcNow < deadline) { await Task.Delay(250); later = await ReadAsync(); }
            Assert.True(later.Samples >= first.Samples + 3, $"updates did not continue: {first.Samples} then {later.Samples}");
            Assert.True(later.Iops > 0, "the IOPS figure stayed 0 under load");
            Assert.Contains("disk0", later.Units);
            Assert.Contains("RaidPort0", later.Units);

            string? keep = Environment.GetEnvironmentVariable("STORSHARP_DASHBOARD_SCREENSHOT");
            if (keep is { Length: > 0 })
            {
                // For docs/diagnostics.md: a longer run with a few events in the log.
                await Task.Delay(TimeSpan.FromSeconds(12));
                h.Miniport.Port.LinkDown();
                await Task.Delay(TimeSpan.FromSeconds(2));
                h.Miniport.Port.LinkUp();
                await Task.Delay(TimeSpan.FromSeconds(12));
            }
            var png = Convert.FromBase64String(await page.CommandAsync("Page.captureScreenshot", "{\"format\":\"png\"}", "data"));
            Assert.Equal((byte)0x89, png[0]);
            Assert.Equal("PNG", Encoding.ASCII.GetString(png, 1, 3));
            if (keep is { Length: > 0 }) await File.WriteAllBytesAsync(keep, png);
        }
        finally
        {
            if (!chromium.HasExited) chromium.Kill(entireProcessTree: true);
            await chromium.WaitForExitAsync();
            try { profile.Delete(recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Just enough of the Chrome DevTools protocol: send a command, wait for its answer.</summary>
    private sealed class DevTools(Uri url) : IDisposable
    {
        private readonly ClientWebSocket _socket = new();
        private int _id;

        public Task ConnectAsync() => _socket.ConnectAsync(url, CancellationToken.None);

        public async Task<string> EvaluateAsync(string expression) =>
            await CommandAsync("Runtime.evaluate", JsonSerializer.Serialize(new { expression, returnByValue = true }), "result", "value");

        public async Task<string> CommandAsync(string method, string parameters, params string[] path)
        {
            int id = ++_id;
            var message = $"{{\"id\":{id},\"method\":\"{method}\",\"params\":{parameters}}}";
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, true, cts.Token);
            var buffer = new byte[1 << 16];
            while (true)
            {
                using var ms = new MemoryStream();
                WebSocketReceiveResult r;
                do
                {
                    r = await _socket.ReceiveAsync(buffer, cts.Token);
                    ms.Write(buffer, 0, r.Count);
                } while (!r.EndOfMessage);
                using var doc = JsonDocument.Parse(ms.ToArray());
                if (!doc.RootElement.TryGetProperty("id", out var got) || got.GetInt32() != id) continue; // an event
                if (doc.RootElement.TryGetProperty("error", out var error)) throw new InvalidOperationException($"{method}: {error}");
                var value = doc.RootElement.GetProperty("result");
                foreach (var p in path)
                    if (!value.TryGetProperty(p, out value)) return ""; // not there yet (the page is still loading)
                return value.GetString()!;
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
