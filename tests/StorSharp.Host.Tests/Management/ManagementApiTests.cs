using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using StorSharp.Host.Configuration;
using StorSharp.Host.Management;
using StorSharp.Port;

namespace StorSharp.Host.Tests.Management;

/// <summary>The management API against a real in-process host (real RAM disks, Kestrel on 127.0.0.1:0).</summary>
public sealed class ManagementApiTests : IAsyncLifetime
{
    private const string Iqn = "iqn.2026-11.io.storsharp:m";
    private readonly TempDir _dir = new();
    private StorSharpHost _host = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var config = ConfigurationLoader.Parse($$"""
            eventLog: off
            iscsi: { portals: [ "127.0.0.1:0" ] }
            nbd: off
            management:
              listen: 127.0.0.1:0
              stateFile: {{_dir.File("management.json")}}
            targets:
              - iqn: {{Iqn}}
            luns:
              - { number: 0, size: 1M }
              - { number: 5, size: 2M, faults: [ { kind: busy, count: 1 } ] }
            """, "m.yaml");
        _host = await StorSharpHost.StartAsync(config);
        _http = new HttpClient { BaseAddress = _host.Management!.Url };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _host.Management.Token);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> Send(HttpMethod method, string path, string? body = null, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await (client ?? _http).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "{}" : text).RootElement.Clone());
    }

    private LogicalUnit Unit(int index) => _host.Luns[index].Adapter.GetLogicalUnit(_host.Luns[index].Address)!;

    [Fact]
    public async Task The_state_file_holds_the_url_and_token_and_only_its_owner_can_read_it()
    {
        var path = _dir.File("management.json");
        var state = ManagementState.Read(path);
        Assert.Equal(_host.Management!.Url.ToString(), state.Url);
        Assert.Equal(_host.Management.Token, state.Token);
        Assert.Equal(64, state.Token.Length);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task Diagnostics_are_mounted_behind_the_token_and_the_dashboard_opens_with_it_in_the_query()
    {
        // Some I/O so the metrics have something to count.
        var lun = _host.Luns[0];
        await lun.Device.WriteAsync(0, new byte[4096]);
        var srb = SrbPool.Shared.Rent();
        srb.Address = lun.Address;
        srb.Function = SrbFunction.ExecuteScsi;
        srb.SetCdb([0x00, 0, 0, 0, 0, 0]); // TEST UNIT READY through the port
        await lun.Adapter.ExecuteAsync(srb);
        srb.Release();

        var metrics = await _http.GetStringAsync("metrics");
        Assert.Contains($"{Iqn} LUN 0", metrics);
        Assert.Contains("storsharp_sessions", metrics);

        using var browser = new HttpClient { BaseAddress = _host.Management!.Url };
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("dashboard")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("metrics?token=nope")).StatusCode);
        var page = await browser.GetAsync(_host.Management.DashboardUrl);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("EventSource", await page.Content.ReadAsStringAsync());
        var live = await browser.GetStringAsync($"api/live?once=true&token={_host.Management.Token}");
        Assert.Contains(Iqn, live);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token")]
    public async Task A_missing_or_wrong_token_gets_401_with_a_json_error_and_changes_nothing(string? token)
    {
        using var client = new HttpClient { BaseAddress = _host.Management!.Url };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var (status, json) = await Send(HttpMethod.Put, $"v1/luns/{Iqn}/0/faults", """[{"kind":"stall"}]""", client);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("token", json.GetProperty("error").GetString());
        Assert.Null(Unit(0).Faults);
    }

    [Fact]
    public async Task Luns_lists_every_lun_with_state_counters_and_the_faults_from_the_configuration()
    {
        var (status, json) = await Send(HttpMethod.Get, "v1/luns");
        Assert.Equal(HttpStatusCode.OK, status);
        var luns = json.GetProperty("luns").EnumerateArray().ToList();
        Assert.Equal(2, luns.Count);
        Assert.Equal(Iqn, luns[0].GetProperty("target").GetString());
        Assert.Equal("0:0:0", luns[0].GetProperty("address").GetString());
        Assert.Equal("ready", luns[0].GetProperty("state").GetString());
        Assert.Equal(1 << 20, luns[0].GetProperty("sizeBytes").GetInt64());
        Assert.Empty(luns[0].GetProperty("faults").EnumerateArray());
        Assert.Equal(5, luns[1].GetProperty("lun").GetInt32());
        Assert.Equal("Busy", Assert.Single(luns[1].GetProperty("faults").EnumerateArray()).GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Adapters_shows_the_storport_tree()
    {
        var (status, json) = await Send(HttpMethod.Get, "v1/adapters");
        Assert.Equal(HttpStatusCode.OK, status);
        var adapter = Assert.Single(json.GetProperty("adapters").EnumerateArray());
        Assert.Equal(@"\Device\RaidPort0", adapter.GetProperty("device").GetString());
        Assert.Equal("Running", adapter.GetProperty("state").GetString());
        var target = Assert.Single(Assert.Single(adapter.GetProperty("buses").EnumerateArray()).GetProperty("targets").EnumerateArray());
        Assert.Equal(Iqn, target.GetProperty("iqn").GetString());
        Assert.Equal(2, target.GetProperty("luns").GetArrayLength());
    }

    [Fact]
    public async Task Faults_are_set_and_cleared_at_run_time()
    {
        var (status, json) = await Send(HttpMethod.Put, $"v1/luns/{Iqn}/0/faults", """[{"kind":"error","operations":"read","senseKey":"MEDIUM_ERROR","asc":"0x11","count":2},{"kind":"delay","delay":"5ms..10ms"}]""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, json.GetProperty("faults").GetArrayLength());
        Assert.Equal(2, Unit(0).Faults!.Rules.Count);
        Assert.Equal(FaultKind.Error, Unit(0).Faults!.Rules[0].Kind);
        Assert.Single(_host.Port.Events.WithId(StorageEventIds.FaultsSet), e => e.Data["Address"] == "0:0:0");

        (status, json) = await Send(HttpMethod.Delete, $"v1/luns/{Iqn}/0/faults");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(json.GetProperty("faults").EnumerateArray());
        Assert.Null(Unit(0).Faults);
    }

    [Theory]
    [InlineData("""[{"kind":"busy","rate":3}]""", "faults[0].rate")]
    [InlineData("""[{"kind":"explode"}]""", "faults[0].kind")]
    [InlineData("""[{"kind":"busy","speed":3}]""", "faults[0].speed")]
    [InlineData("""{"kind":"busy"}""", "faults")]
    [InlineData("""[{"kind":"busy",""", "")]
    [InlineData("", "faults")]
    public async Task Bad_fault_rules_get_400_naming_the_field_and_change_nothing(string body, string field)
    {
        var before = Unit(1).Faults;
        var (status, json) = await Send(HttpMethod.Put, $"v1/luns/{Iqn}/5/faults", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith(field, json.GetProperty("field").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("error").GetString()));
        Assert.Same(before, Unit(1).Faults);
    }

    [Theory]
    [InlineData("iqn.2026-11.io.storsharp:none", "0", HttpStatusCode.NotFound, "target")]
    [InlineData(Iqn, "7", HttpStatusCode.NotFound, "target")]
    [InlineData(Iqn, "x", HttpStatusCode.BadRequest, "lun")]
    public async Task An_unknown_lun_is_refused_naming_it(string target, string lun, HttpStatusCode expected, string field)
    {
        var (status, json) = await Send(HttpMethod.Delete, $"v1/luns/{target}/{lun}/faults");
        Assert.Equal(expected, status);
        Assert.Equal(field, json.GetProperty("field").GetString());
    }

    [Fact]
    public async Task Pause_holds_new_io_in_the_port_and_resume_lets_it_run()
    {
        var (status, json) = await Send(HttpMethod.Post, $"v1/luns/{Iqn}/0/pause", """{"seconds":30}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("paused", json.GetProperty("state").GetString());
        Assert.True(Unit(0).IsPaused);
        var srb = SrbPool.Shared.Rent();
        srb.Address = _host.Luns[0].Address;
        var cdb = srb.InitCdb(6); // TEST UNIT READY
        var task = _host.Adapters[0].ExecuteAsync(srb).AsTask();
        await Task.Delay(200);
        Assert.False(task.IsCompleted);
        Assert.Equal(1, Unit(0).PendingCount);

        (status, json) = await Send(HttpMethod.Post, $"v1/luns/{Iqn}/0/resume");
        Assert.Equal(HttpStatusCode.OK, status);
        await task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("ready", json.GetProperty("state").GetString());
        srb.Release();
        Assert.Single(_host.Port.Events.WithId(StorageEventIds.DevicePaused));
        Assert.Single(_host.Port.Events.WithId(StorageEventIds.DeviceResumed));
    }

    [Theory]
    [InlineData("pause", """{"seconds":-1}""", "seconds")]
    [InlineData("pause", """{"seconds":"long"}""", "seconds")]
    [InlineData("pause", """{"secs":1}""", "secs")]
    [InlineData("pause", "[1]", "body")]
    [InlineData("resume", """{"now":true}""", "now")]
    public async Task Bad_pause_arguments_get_400_and_change_nothing(string operation, string body, string field)
    {
        var (status, json) = await Send(HttpMethod.Post, $"v1/luns/{Iqn}/0/{operation}", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(field, json.GetProperty("field").GetString());
        Assert.False(Unit(0).IsPaused);
    }

    [Fact]
    public async Task Queue_depth_changes_and_bad_depths_are_refused()
    {
        var (status, json) = await Send(HttpMethod.Put, $"v1/luns/{Iqn}/0/queue-depth", """{"depth":4}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(4, json.GetProperty("queueDepth").GetInt32());
        Assert.Equal(4, Unit(0).QueueDepth);
        foreach (var bad in new[] { """{"depth":0}""", """{"depth":256}""", """{"depth":2.5}""", "{}" })
        {
            (status, json) = await Send(HttpMethod.Put, $"v1/luns/{Iqn}/0/queue-depth", bad);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("depth", json.GetProperty("field").GetString());
            Assert.Equal(4, Unit(0).QueueDepth);
        }
    }

    [Fact]
    public async Task Link_down_takes_the_link_down_for_the_given_time_and_refuses_bad_arguments()
    {
        var (status, json) = await Send(HttpMethod.Post, "v1/adapters/0/link-down", """{"seconds":0.5}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(_host.Adapters[0].IsLinkDown);
        (status, json) = await Send(HttpMethod.Post, "v1/adapters/0/link-down", """{"seconds":1}""");
        Assert.Equal(HttpStatusCode.Conflict, status);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (_host.Adapters[0].IsLinkDown && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.False(_host.Adapters[0].IsLinkDown);
        Assert.Single(_host.Port.Events.WithId(StorageEventIds.LinkUp));

        (status, json) = await Send(HttpMethod.Post, "v1/adapters/0/link-down", "{}");
        Assert.Equal((HttpStatusCode.BadRequest, "seconds"), (status, json.GetProperty("field").GetString()));
        (status, json) = await Send(HttpMethod.Post, "v1/adapters/9/link-down", """{"seconds":1}""");
        Assert.Equal((HttpStatusCode.NotFound, "adapter"), (status, json.GetProperty("field").GetString()));
        Assert.False(_host.Adapters[0].IsLinkDown);
    }

    [Fact]
    public async Task Drop_connections_tells_the_front_ends_and_logs_it()
    {
        var (status, json) = await Send(HttpMethod.Post, $"v1/luns/{Iqn}/0/drop-connections");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, json.GetProperty("frontEndsTold").GetInt32()); // the iSCSI target
        Assert.Single(_host.Port.Events.WithId(StorageEventIds.ConnectionsDropped));
    }

    [Fact]
    public async Task Events_are_listed_and_followed_as_server_sent_events()
    {
        var (status, json) = await Send(HttpMethod.Get, "v1/events?last=1");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Single(json.GetProperty("events").EnumerateArray());
        (status, json) = await Send(HttpMethod.Get, "v1/events?last=x");
        Assert.Equal((HttpStatusCode.BadRequest, "last"), (status, json.GetProperty("field").GetString()));

        using var client = ManagementClient.Locate(null, null, _dir.File("management.json"));
        var seen = new List<StorageEvent>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var follow = client.FollowEventsAsync(0, e => { lock (seen) seen.Add(e); if (e.Id == StorageEventIds.QueueDepthSet) stop.Cancel(); }, stop.Token);
        await Task.Delay(300);
        await Send(HttpMethod.Put, $"v1/luns/{Iqn}/0/queue-depth", """{"depth":9}""");
        try { await follow; } catch (OperationCanceledException) { }
        lock (seen) Assert.Contains(seen, e => e.Id == StorageEventIds.QueueDepthSet && e.Data["QueueDepth"] == "9");
    }

    [Fact]
    public async Task History_needs_a_persisted_event_log()
    {
        var (status, json) = await Send(HttpMethod.Get, "v1/events?history=true");
        Assert.Equal((HttpStatusCode.BadRequest, "history"), (status, json.GetProperty("field").GetString()));
    }

    [Fact]
    public async Task History_serves_events_of_earlier_runs_from_the_json_lines_file()
    {
        using var dir = new TempDir();
        var log = dir.File("events.jsonl");
        using (var earlier = new EventLog(log))
            earlier.Write(new StorageEvent(StorageEventIds.ResetToDevice, DateTimeOffset.UtcNow.AddDays(-1), EventLevel.Warning, "ScsiDisk", "RaidPort0", "Reset to device, RaidPort0, was issued.", new Dictionary<string, string>()));
        var config = ConfigurationLoader.Parse($$"""
            eventLog: {{log}}
            iscsi: { portals: [ "127.0.0.1:0" ] }
            nbd: off
            management: { stateFile: {{dir.File("m.json")}} }
            targets: [ { iqn: {{Iqn}} } ]
            luns: [ { size: 1M } ]
            """, "h.yaml");
        await using var host = await StorSharpHost.StartAsync(config);
        using var client = new HttpClient { BaseAddress = host.Management!.Url };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.Management.Token);
        var (status, json) = await Send(HttpMethod.Get, "v1/events?history=true", client: client);
        Assert.Equal(HttpStatusCode.OK, status);
        var ids = json.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetInt32()).ToList();
        Assert.Equal(StorageEventIds.ResetToDevice, ids[0]); // the earlier run's event comes first
        Assert.Contains(StorageEventIds.AdapterStarted, ids);
        (status, json) = await Send(HttpMethod.Get, "v1/events", client: client);
        Assert.DoesNotContain(json.GetProperty("events").EnumerateArray(), e => e.GetProperty("id").GetInt32() == StorageEventIds.ResetToDevice);
    }

    [Fact]
    public async Task An_unknown_operation_gets_404_listing_the_operations()
    {
        var (status, json) = await Send(HttpMethod.Get, "v1/nothing");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("GET /v1/luns", json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task The_cli_commands_reach_the_api_through_the_state_file()
    {
        var state = _dir.File("management.json");
        var (code, output, error) = await Cli(["luns", "--state", state]);
        Assert.Equal(0, code);
        Assert.Contains(Iqn, output);
        Assert.Contains("Busy media count=1", output);
        (code, output, _) = await Cli(["fault", "set", Iqn, "0", """[{"kind":"stall","count":1}]""", "--state", state]);
        Assert.Equal(0, code);
        Assert.Contains("Stall media count=1", output);
        (code, _, error) = await Cli(["fault", "set", Iqn, "0", """[{"kind":"stall","count":0}]""", "--state", state]);
        Assert.Equal(2, code);
        Assert.Contains("faults[0].count", error);
        (code, _, _) = await Cli(["fault", "clear", Iqn, "0", "--state", state]);
        Assert.Equal(0, code);
        Assert.Null(Unit(0).Faults);
        (code, _, _) = await Cli(["queue-depth", Iqn, "0", "12", "--state", state]);
        Assert.Equal(0, code);
        Assert.Equal(12, Unit(0).QueueDepth);
        (code, output, _) = await Cli(["adapters", "--state", state]);
        Assert.Equal(0, code);
        Assert.Contains(@"\Device\RaidPort0", output);
        (code, _, error) = await Cli(["luns", "--state", _dir.File("missing.json")]);
        Assert.Equal(1, code);
        Assert.Contains("no running server found", error);
        (code, _, error) = await Cli(["luns", "--url", _host.Management!.Url.ToString(), "--token", "bad"]);
        Assert.Equal(1, code);
        Assert.Contains("token", error);
    }

    private static async Task<(int Code, string Output, string Error)> Cli(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await StorSharp.Cli.StorSharpCommandLine.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
