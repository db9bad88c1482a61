using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using StorSharp.Host.Configuration;
using StorSharp.Port;

namespace StorSharp.Host.Tests.Management;

/// <summary>
/// Changing the disc of a virtual DVD drive through the management API (insert, eject, show) against
/// a real in-process host: the hosts' view is checked with SCSI commands sent through the port on an
/// I_T nexus of their own (TEST UNIT READY, READ(10), PREVENT ALLOW MEDIUM REMOVAL).
/// </summary>
public sealed class MediaApiTests : IAsyncLifetime
{
    private const string Iqn = "iqn.2026-11.io.storsharp:media";
    private const string Media1 = $"v1/luns/{Iqn}/1/media";
    private const string Media2 = $"v1/luns/{Iqn}/2/media";
    private readonly TempDir _dir = new();
    private StorSharpHost _host = null!;
    private HttpClient _http = null!;
    private string _isoA = "", _isoB = "";

    public async Task InitializeAsync()
    {
        _isoA = await Iso("a.iso", 40, 0xA0);
        _isoB = await Iso("b.iso", 24, 0xB0);
        var config = ConfigurationLoader.Parse($$"""
            eventLog: off
            iscsi: off
            nbd: off
            management:
              listen: 127.0.0.1:0
              stateFile: {{_dir.File("management.json")}}
            targets:
              - iqn: {{Iqn}}
            luns:
              - { number: 0, size: 1M }
              - { number: 1, device: dvd, backend: file, path: "{{_isoA}}" }
              - { number: 2, device: dvd, backend: none }
            """, "media.yaml");
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

    /// <summary>An "ISO" of <paramref name="sectors"/> 2048-byte sectors, each starting with its number after <paramref name="seed"/>.</summary>
    private async Task<string> Iso(string name, int sectors, byte seed)
    {
        var data = new byte[sectors * 2048];
        for (var s = 0; s < sectors; s++) data.AsSpan(s * 2048, 2048).Fill((byte)(seed + s));
        var path = _dir.File(name);
        await File.WriteAllBytesAsync(path, data);
        return path;
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> Send(HttpMethod method, string path, string? body = null, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await (client ?? _http).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "{}" : text).RootElement.Clone());
    }

    private static string PathBody(string path) => JsonSerializer.Serialize(new { path });

    private async Task<JsonElement> MediaOf(string route)
    {
        var (status, json) = await Send(HttpMethod.Get, route);
        Assert.Equal(HttpStatusCode.OK, status);
        return json.GetProperty("media");
    }

    private async Task<List<JsonElement>> EventsWithId(int id)
    {
        var (_, json) = await Send(HttpMethod.Get, "v1/events");
        return [.. json.GetProperty("events").EnumerateArray().Where(e => e.GetProperty("id").GetInt32() == id)];
    }

    // ---- the host's side: SCSI through the port on a nexus --------------------------------------

    private sealed record Reply(ScsiStatus Status, byte SenseKey, byte Asc, byte Ascq, byte[] Data);

    private async Task<Reply> Scsi(int lunIndex, InitiatorNexus nexus, byte[] cdb, int dataIn = 0)
    {
        var lun = _host.Luns[lunIndex];
        var srb = SrbPool.Shared.Rent();
        srb.SetCdb(cdb);
        srb.Address = lun.Address;
        srb.Nexus = nexus;
        srb.SenseInfoBufferLength = Srb.MaxSenseLength;
        srb.Direction = dataIn > 0 ? DataDirection.In : DataDirection.None;
        if (dataIn > 0) srb.Data.Rent(dataIn);
        srb.DataTransferLength = dataIn;
        await lun.Adapter.ExecuteAsync(srb);
        var data = new byte[srb.Data.Length];
        srb.Data.CopyTo(0, data);
        var sense = srb.SenseData.ToArray();
        var reply = sense.Length >= 14 ? new Reply(srb.ScsiStatus, (byte)(sense[2] & 0x0F), sense[12], sense[13], data) : new Reply(srb.ScsiStatus, 0, 0, 0, data);
        srb.Release();
        return reply;
    }

    private static readonly byte[] TestUnitReady = [0x00, 0, 0, 0, 0, 0];
    private static readonly byte[] PreventRemoval = [0x1E, 0, 0, 0, 1, 0];
    private static byte[] Read10(int lba) => [0x28, 0, 0, 0, (byte)(lba >> 8), (byte)lba, 0, 0, 1, 0];

    /// <summary>A host's nexus whose POWER ON unit attention is taken.</summary>
    private async Task<InitiatorNexus> Nexus(int lunIndex, string name)
    {
        var nexus = new InitiatorNexus($"iqn.2026-11.test:{name}", Iqn);
        var first = await Scsi(lunIndex, nexus, TestUnitReady);
        Assert.Equal((ScsiStatus.CheckCondition, (byte)0x06, (byte)0x29), (first.Status, first.SenseKey, first.Asc)); // POWER ON, RESET
        return nexus;
    }

    private static void AssertSense(Reply reply, byte key, byte asc, byte ascq)
    {
        Assert.Equal(ScsiStatus.CheckCondition, reply.Status);
        Assert.Equal((key, asc, ascq), (reply.SenseKey, reply.Asc, reply.Ascq));
    }

    // ---- tests --------------------------------------------------------------------------------

    [Fact]
    public async Task A_configured_empty_drive_is_not_ready_until_a_disc_is_inserted_then_reports_the_change_and_reads_it()
    {
        var media = await MediaOf(Media2);
        Assert.Equal("closed", media.GetProperty("tray").GetString());
        Assert.False(media.GetProperty("loaded").GetBoolean());
        Assert.Equal(JsonValueKind.Null, media.GetProperty("disc").ValueKind);
        Assert.Contains($"LUN 2 of {Iqn}: DVD drive, empty (storsharp media insert {Iqn} 2 ISO puts a disc in)", ServeRunner.DescribeHowToConnect(_host));
        var host = await Nexus(2, "empty");
        AssertSense(await Scsi(2, host, TestUnitReady), 0x02, 0x3A, 0x01); // MEDIUM NOT PRESENT - TRAY CLOSED

        var (status, json) = await Send(HttpMethod.Post, Media2 + "/insert", PathBody(_isoB));
        Assert.Equal(HttpStatusCode.OK, status);
        media = json.GetProperty("media");
        Assert.Equal(_isoB, media.GetProperty("disc").GetString());
        Assert.True(media.GetProperty("loaded").GetBoolean());
        Assert.Equal(24 * 2048, media.GetProperty("sizeBytes").GetInt64());
        Assert.Equal("cd-rom", media.GetProperty("profile").GetString());

        AssertSense(await Scsi(2, host, TestUnitReady), 0x06, 0x28, 0x00); // NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED
        Assert.Equal(ScsiStatus.Good, (await Scsi(2, host, TestUnitReady)).Status);
        var read = await Scsi(2, host, Read10(5), 2048);
        Assert.Equal(ScsiStatus.Good, read.Status);
        Assert.All(read.Data, b => Assert.Equal(0xB5, b));

        var inserted = Assert.Single(await EventsWithId(StorageEventIds.MediaInserted));
        Assert.Equal(_isoB, inserted.GetProperty("data").GetProperty("Path").GetString());
        Assert.Equal("2", inserted.GetProperty("data").GetProperty("Lun").GetString());
        // The LUN listing carries the drive's state; a disk has none.
        var (_, luns) = await Send(HttpMethod.Get, "v1/luns");
        var list = luns.GetProperty("luns").EnumerateArray().ToList();
        Assert.Equal(JsonValueKind.Null, list[0].GetProperty("media").ValueKind);
        Assert.Equal(_isoB, list[2].GetProperty("media").GetProperty("disc").GetString());
        Assert.Equal(24 * 2048, list[2].GetProperty("sizeBytes").GetInt64());
    }

    [Fact]
    public async Task Insert_replaces_the_loaded_disc_and_hosts_read_the_new_one_after_the_unit_attention()
    {
        var host = await Nexus(1, "reader");
        Assert.All((await Scsi(1, host, Read10(3), 2048)).Data, b => Assert.Equal(0xA3, b));
        var (status, json) = await Send(HttpMethod.Post, Media1 + "/insert", PathBody(_isoB));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(_isoB, json.GetProperty("media").GetProperty("disc").GetString());
        AssertSense(await Scsi(1, host, Read10(3), 2048), 0x06, 0x28, 0x00);
        Assert.All((await Scsi(1, host, Read10(3), 2048)).Data, b => Assert.Equal(0xB3, b));
        // Past the new, smaller disc: LBA OUT OF RANGE.
        AssertSense(await Scsi(1, host, Read10(30), 2048), 0x05, 0x21, 0x00);
        var inserted = Assert.Single(await EventsWithId(StorageEventIds.MediaInserted));
        Assert.Contains($"replacing {_isoA}", inserted.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Eject_leaves_the_tray_open_and_closes_the_image_file()
    {
        var host = await Nexus(1, "ejected");
        var (status, json) = await Send(HttpMethod.Post, Media1 + "/eject");
        Assert.Equal(HttpStatusCode.OK, status);
        var media = json.GetProperty("media");
        Assert.Equal("open", media.GetProperty("tray").GetString());
        Assert.Equal(JsonValueKind.Null, media.GetProperty("disc").ValueKind);
        Assert.Equal(0, media.GetProperty("sizeBytes").GetInt64());
        AssertSense(await Scsi(1, host, TestUnitReady), 0x02, 0x3A, 0x02); // MEDIUM NOT PRESENT - TRAY OPEN
        var ejected = Assert.Single(await EventsWithId(StorageEventIds.MediaEjected));
        Assert.Equal(_isoA, ejected.GetProperty("data").GetProperty("Path").GetString());
        Assert.Equal("false", ejected.GetProperty("data").GetProperty("Forced").GetString());
        if (OperatingSystem.IsLinux())
        {
            // Nothing is outstanding, so the image is closed within a few polls.
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (OpenByThisProcess(_isoA) && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.False(OpenByThisProcess(_isoA), $"{_isoA} is still open after the eject");
        }
        // Ejecting an empty drive is not an error: the tray stays open, no second event.
        (status, _) = await Send(HttpMethod.Post, Media1 + "/eject", "{}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Single(await EventsWithId(StorageEventIds.MediaEjected));
    }

    private static bool OpenByThisProcess(string file) =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos().Any(fd =>
        {
            try { return fd.LinkTarget == file; }
            catch (IOException) { return false; } // closed while listing
        });

    [Fact]
    public async Task A_locked_disc_is_not_ejected_or_replaced_409_and_nothing_changes_until_force()
    {
        var host = await Nexus(1, "locker");
        Assert.Equal(ScsiStatus.Good, (await Scsi(1, host, PreventRemoval)).Status);
        Assert.True((await MediaOf(Media1)).GetProperty("locked").GetBoolean());
        var before = (await MediaOf(Media1)).GetRawText();

        var (status, json) = await Send(HttpMethod.Post, Media1 + "/eject");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("force", json.GetProperty("field").GetString());
        Assert.Contains("PREVENT ALLOW MEDIUM REMOVAL", json.GetProperty("error").GetString());
        Assert.Contains("force", json.GetProperty("error").GetString());
        (status, json) = await Send(HttpMethod.Post, Media1 + "/insert", PathBody(_isoB));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("eject it first", json.GetProperty("error").GetString());

        Assert.Equal(before, (await MediaOf(Media1)).GetRawText());
        Assert.Equal(ScsiStatus.Good, (await Scsi(1, host, TestUnitReady)).Status); // no unit attention: nothing moved
        Assert.All((await Scsi(1, host, Read10(1), 2048)).Data, b => Assert.Equal(0xA1, b));
        Assert.Single(await EventsWithId(StorageEventIds.MediaEjectRefused));
        Assert.Empty(await EventsWithId(StorageEventIds.MediaEjected));
        Assert.Empty(await EventsWithId(StorageEventIds.MediaInserted));
        // GET EVENT STATUS NOTIFICATION, media class: the hosts were told someone asked for an eject.
        var gesn = await Scsi(1, host, [0x4A, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0], 8);
        Assert.Equal(ScsiStatus.Good, gesn.Status);
        Assert.Equal(0x01, gesn.Data[4] & 0x0F); // EjectRequest

        (status, json) = await Send(HttpMethod.Post, Media1 + "/eject", """{"force": true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("open", json.GetProperty("media").GetProperty("tray").GetString());
        Assert.True(json.GetProperty("media").GetProperty("locked").GetBoolean()); // the host still holds its lock
        AssertSense(await Scsi(1, host, TestUnitReady), 0x02, 0x3A, 0x02);
        var ejected = Assert.Single(await EventsWithId(StorageEventIds.MediaEjected));
        Assert.Equal("true", ejected.GetProperty("data").GetProperty("Forced").GetString());
        // With the drive empty, inserting works even while the host keeps its lock.
        (status, _) = await Send(HttpMethod.Post, Media1 + "/insert", PathBody(_isoB));
        Assert.Equal(HttpStatusCode.OK, status);
        AssertSense(await Scsi(1, host, TestUnitReady), 0x06, 0x28, 0x00);
    }

    public static TheoryData<string, string?, string, string> BadRequests => new()
    {
        // route (under v1/luns/IQN/), body, field, words of the message
        { "1/media/insert", null, "path", "is required" },
        { "1/media/insert", """{"path": 7}""", "path", "string" },
        { "1/media/insert", """{"path": "disc.iso"}""", "path", "absolute" },
        { "1/media/insert", """{"path": "MISSING"}""", "path", "does not exist" },
        { "1/media/insert", """{"path": "ODD"}""", "path", "not a whole number of 2048-byte sectors" },
        { "1/media/insert", """{"path": "SHORT"}""", "path", "smaller than one 2048-byte sector" },
        { "1/media/insert", """{"path": "DIR"}""", "path", "is a directory" },
        { "1/media/insert", """{"path": "A", "tray": "open"}""", "tray", "unknown field" },
        { "1/media/eject", """{"force": "yes"}""", "force", "true or false" },
        { "1/media/eject", "[1]", "body", "JSON object" },
        { "0/media/insert", """{"path": "A"}""", "lun", "is a disk, not a dvd drive" },
        { "0/media/eject", null, "lun", "is a disk, not a dvd drive" },
        { "0/media", null, "lun", "is a disk, not a dvd drive" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_requests_get_400_naming_the_field_and_change_nothing(string route, string? body, string field, string words)
    {
        var odd = _dir.File("odd.iso");
        await File.WriteAllBytesAsync(odd, new byte[3 * 2048 + 512]);
        var shortFile = _dir.File("short.iso");
        await File.WriteAllBytesAsync(shortFile, new byte[512]);
        body = body?.Replace("MISSING", _dir.File("missing.iso")).Replace("ODD", odd).Replace("SHORT", shortFile).Replace("DIR", _dir.Path).Replace("\"A\"", JsonSerializer.Serialize(_isoA));
        var before = (await MediaOf(Media1)).GetRawText();
        var (status, json) = await Send(route.EndsWith("/media", StringComparison.Ordinal) ? HttpMethod.Get : HttpMethod.Post, $"v1/luns/{Iqn}/{route}", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(field, json.GetProperty("field").GetString());
        Assert.Contains(words, json.GetProperty("error").GetString());
        Assert.Equal(before, (await MediaOf(Media1)).GetRawText());
        Assert.Empty(await EventsWithId(StorageEventIds.MediaInserted));
        Assert.Empty(await EventsWithId(StorageEventIds.MediaEjected));
    }

    [Fact]
    public async Task Unknown_luns_get_404_and_a_bad_token_401_and_nothing_changes()
    {
        var before = (await MediaOf(Media1)).GetRawText();
        var (status, json) = await Send(HttpMethod.Post, $"v1/luns/{Iqn}/9/media/eject");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("target", json.GetProperty("field").GetString());
        (status, _) = await Send(HttpMethod.Get, "v1/luns/iqn.2026-11.io.storsharp:nothing/1/media");
        Assert.Equal(HttpStatusCode.NotFound, status);

        using var stranger = new HttpClient { BaseAddress = _host.Management!.Url };
        stranger.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token-at-all");
        (status, json) = await Send(HttpMethod.Post, Media1 + "/eject", """{"force": true}""", stranger);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Authorization", json.GetProperty("field").GetString());
        (status, _) = await Send(HttpMethod.Post, Media1 + "/insert", PathBody(_isoB), stranger);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(before, (await MediaOf(Media1)).GetRawText());
    }

    [Fact]
    public async Task The_media_commands_change_and_show_the_disc_through_the_state_file()
    {
        var state = _dir.File("management.json");
        var host = await Nexus(1, "cli");
        // A relative PATH is taken from the CLI's working folder.
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, _isoB);
        var (code, output, error) = await Cli(["media", "insert", Iqn, "1", relative, "--state", state]);
        Assert.True(code == 0, error);
        Assert.Equal($"LUN 1 of {Iqn}: disc {_isoB} (48 KiB, cd-rom), tray closed, not locked", output.Trim());
        AssertSense(await Scsi(1, host, TestUnitReady), 0x06, 0x28, 0x00);

        Assert.Equal(ScsiStatus.Good, (await Scsi(1, host, PreventRemoval)).Status);
        (code, output, _) = await Cli(["media", "show", Iqn, "1", "--state", state]);
        Assert.Equal(0, code);
        Assert.EndsWith("tray closed, locked by a host (PREVENT ALLOW MEDIUM REMOVAL)", output.Trim());
        (code, _, error) = await Cli(["media", "eject", Iqn, "1", "--state", state]);
        Assert.Equal(2, code);
        Assert.Contains("locked the disc", error);
        Assert.Equal(_isoB, (await MediaOf(Media1)).GetProperty("disc").GetString());
        (code, output, _) = await Cli(["media", "eject", Iqn, "1", "--force", "--state", state]);
        Assert.Equal(0, code);
        Assert.Equal($"LUN 1 of {Iqn}: no disc, tray open, locked by a host (PREVENT ALLOW MEDIUM REMOVAL)", output.Trim());

        (code, _, error) = await Cli(["media", "insert", Iqn, "0", _isoA, "--state", state]);
        Assert.Equal(2, code);
        Assert.Contains("not a dvd drive", error);
        (code, output, _) = await Cli(["media", "show", Iqn, "2", "--json", "--state", state]);
        Assert.Equal(0, code);
        Assert.Equal("closed", JsonDocument.Parse(output).RootElement.GetProperty("media").GetProperty("tray").GetString());
    }

    private static async Task<(int Code, string Output, string Error)> Cli(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await StorSharp.Cli.StorSharpCommandLine.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
