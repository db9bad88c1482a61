using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using StorSharp.Block;
using StorSharp.Host.Configuration;
using StorSharp.Nbd.Client;
using StorSharp.Port;

namespace StorSharp.Host.Tests.Management;

/// <summary>
/// Hot plug through the management API (lun add / remove / resize) against a real in-process host:
/// real RAM disks, the real port, iSCSI and NBD listening on 127.0.0.1:0, Kestrel on 127.0.0.1:0.
/// </summary>
public sealed class LunHotPlugApiTests : IAsyncLifetime
{
    private const string Iqn = "iqn.2026-11.io.storsharp:hp";
    private readonly TempDir _dir = new();
    private StorSharpHost _host = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var config = ConfigurationLoader.Parse($$"""
            eventLog: off
            iscsi: { portals: [ "127.0.0.1:0" ] }
            nbd:
              listen: 127.0.0.1:0
              exports: [ { name: hp0, lun: 0 } ]
            management:
              listen: 127.0.0.1:0
              stateFile: {{_dir.File("management.json")}}
            targets:
              - iqn: {{Iqn}}
            luns:
              - { number: 0, size: 1M }
              - { number: 7, size: 1M, readOnly: true }
            """, "hp.yaml");
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

    /// <summary>What the host serves now: the LUN numbers, the port's LU addresses and the NBD export names.</summary>
    private string Snapshot() =>
        string.Join(",", _host.Luns.Select(l => l.Settings.Number)) + "|" +
        string.Join(",", _host.Adapters.SelectMany(a => a.LogicalUnits).Select(u => u.Address)) + "|" +
        string.Join(",", _host.NbdExports.Select(e => e.Export.Name));

    private Task<NbdBlockDevice> ConnectNbd(string export) =>
        NbdBlockDevice.ConnectAsync(new NbdClientOptions
        {
            Address = NbdServerAddress.Parse($"nbd://127.0.0.1:{_host.NbdEndpoint!.Port}/{export}"),
            Reconnect = new NbdReconnectPolicy { Enabled = false },
        });

    /// <summary>Sends a CDB to the LU of LUN <paramref name="number"/> from <paramref name="nexus"/>; returns the SCSI status and the sense key/ASC/ASCQ.</summary>
    private async Task<(ScsiStatus Status, int Asc, int Ascq, byte[] Data)> Scsi(int number, InitiatorNexus nexus, byte[] cdb, int dataIn = 0)
    {
        var lun = _host.FindLun(Iqn, number)!;
        var srb = SrbPool.Shared.Rent();
        try
        {
            srb.Address = lun.Address;
            srb.Function = SrbFunction.ExecuteScsi;
            srb.Nexus = nexus;
            srb.SetCdb(cdb);
            if (dataIn > 0) { srb.Direction = DataDirection.In; srb.Data.Rent(dataIn); }
            await lun.Adapter.ExecuteAsync(srb);
            var data = new byte[dataIn];
            if (dataIn > 0) srb.Data.CopyTo(0, data);
            var sense = srb.SenseData;
            return (srb.ScsiStatus, sense.Length > 13 ? sense[12] : -1, sense.Length > 13 ? sense[13] : -1, data);
        }
        finally { srb.Release(); }
    }

    private static readonly byte[] TestUnitReady = [0, 0, 0, 0, 0, 0];
    private static readonly byte[] ReadCapacity16 = [0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0];

    /// <summary>Clears the POWER ON unit attention a new nexus gets.</summary>
    private async Task Meet(int number, InitiatorNexus nexus)
    {
        while ((await Scsi(number, nexus, TestUnitReady)).Status != ScsiStatus.Good) { }
    }

    [Fact]
    public async Task Add_serves_a_new_lun_on_the_port_and_over_nbd_and_tells_the_other_luns_of_the_target()
    {
        var nexus = new InitiatorNexus("iqn.test:i1", "t1");
        await Meet(0, nexus);

        var (status, json) = await Send(HttpMethod.Post, $"v1/luns/{Iqn}/3", """{"backend":"ram","size":"2M","productId":"Added"}""");

        Assert.Equal(HttpStatusCode.Created, status);
        var lun = json.GetProperty("lun");
        Assert.Equal(3, lun.GetProperty("lun").GetInt32());
        Assert.Equal("ready", lun.GetProperty("state").GetString());
        Assert.Equal(2 << 20, lun.GetProperty("sizeBytes").GetInt64());
        Assert.Equal("hp-lun3", json.GetProperty("nbdExport").GetString());
        var added = _host.FindLun(Iqn, 3)!;
        var unit = added.Adapter.GetLogicalUnit(added.Address);
        Assert.NotNull(unit);
        Assert.Equal("Added", unit.Identity!.ProductId);
        Assert.Contains(_host.Port.Events.WithId(StorageEventIds.LunAdded), e => e.Data["Address"] == added.Address.ToString());

        // REPORTED LUNS DATA HAS CHANGED on the target's other LU, once.
        var (s, asc, ascq, _) = await Scsi(0, nexus, TestUnitReady);
        Assert.Equal((ScsiStatus.CheckCondition, 0x3F, 0x0E), (s, asc, ascq));
        Assert.Equal(ScsiStatus.Good, (await Scsi(0, nexus, TestUnitReady)).Status);

        // NBD: the export is there with the LUN's size, and holds data.
        await using var nbd = await ConnectNbd("hp-lun3");
        Assert.Equal(2 << 20, nbd.Geometry.SizeBytes);
        var data = Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray();
        await nbd.WriteAsync(8, data);
        var back = new byte[4096];
        await added.Device.ReadAsync(8, back);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task Add_with_export_false_serves_no_nbd_export_and_an_explicit_name_is_used()
    {
        var (status, json) = await Send(HttpMethod.Post, $"v1/luns/{Iqn}/1", """{"size":"1M","export":false}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("nbdExport").ValueKind);
        Assert.DoesNotContain(_host.NbdExports, e => e.Lun.Settings.Number == 1);
        (status, json) = await Send(HttpMethod.Post, $"v1/luns/{Iqn}/2", """{"size":"1M","export":"scratch"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("scratch", json.GetProperty("nbdExport").GetString());
        await using var nbd = await ConnectNbd("scratch");
        Assert.Equal(1 << 20, nbd.Geometry.SizeBytes);
    }

    [Theory]
    [InlineData("iqn.2026-11.io.storsharp:nope", "1", """{"size":"1M"}""", HttpStatusCode.NotFound, "target")]
    [InlineData(Iqn, "0", """{"size":"1M"}""", HttpStatusCode.Conflict, "lun")]
    [InlineData(Iqn, "x", """{"size":"1M"}""", HttpStatusCode.BadRequest, "lun")]
    [InlineData(Iqn, "20000", """{"size":"1M"}""", HttpStatusCode.BadRequest, "lun")]
    [InlineData(Iqn, "1", """{"size":"3000"}""", HttpStatusCode.BadRequest, "size")]
    [InlineData(Iqn, "1", """{}""", HttpStatusCode.BadRequest, "size")]
    [InlineData(Iqn, "1", """{"size":"1M","backend":"tape"}""", HttpStatusCode.BadRequest, "backend")]
    [InlineData(Iqn, "1", """{"sise":"1M"}""", HttpStatusCode.BadRequest, "sise")]
    [InlineData(Iqn, "1", """{"size":"1M","blockSize":1024}""", HttpStatusCode.BadRequest, "blockSize")]
    [InlineData(Iqn, "1", """{"size":"1M","faults":[{"kind":"busy","rate":3}]}""", HttpStatusCode.BadRequest, "faults[0].rate")]
    [InlineData(Iqn, "1", """{"size":"1M","number":2}""", HttpStatusCode.BadRequest, "number")]
    [InlineData(Iqn, "1", """{"backend":"file","path":"/nonexistent/dir/x.img","create":true,"size":"1M"}""", HttpStatusCode.BadRequest, "path")]
    [InlineData(Iqn, "1", """{"size":"1M","export":7}""", HttpStatusCode.BadRequest, "export")]
    [InlineData(Iqn, "1", """{"size":"1M","export":"hp0"}""", HttpStatusCode.Conflict, "export")]
    [InlineData(Iqn, "1", """[1,2]""", HttpStatusCode.BadRequest, "body")]
    [InlineData(Iqn, "1", """{"size":""", HttpStatusCode.BadRequest, "body")]
    public async Task A_refused_add_names_the_field_and_changes_nothing(string target, string lun, string body, HttpStatusCode expected, string field)
    {
        var before = Snapshot();
        var (status, json) = await Send(HttpMethod.Post, $"v1/luns/{target}/{lun}", body);
        Assert.Equal(expected, status);
        Assert.Equal(field, json.GetProperty("field").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("error").GetString()));
        Assert.Equal(before, Snapshot());
        Assert.DoesNotContain(_host.Port.Events.WithId(StorageEventIds.LunAdded), e => e.Data["Address"] is not ("0:0:0" or "0:0:1"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token")]
    public async Task A_missing_or_wrong_token_gets_401_for_every_hot_plug_operation_and_changes_nothing(string? token)
    {
        using var client = new HttpClient { BaseAddress = _host.Management!.Url };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var before = Snapshot();
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Post, $"v1/luns/{Iqn}/1", """{"size":"1M"}""", client)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Delete, $"v1/luns/{Iqn}/0", null, client)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Put, $"v1/luns/{Iqn}/0/size", """{"size":"4M"}""", client)).Status);
        Assert.Equal(before, Snapshot());
        Assert.Equal(1 << 20, _host.FindLun(Iqn, 0)!.Device.Geometry.SizeBytes);
    }

    [Fact]
    public async Task Remove_takes_the_lun_off_the_port_the_nbd_exports_and_the_target()
    {
        var nexus = new InitiatorNexus("iqn.test:i2", "t2");
        Assert.Equal(HttpStatusCode.Created, (await Send(HttpMethod.Post, $"v1/luns/{Iqn}/4", """{"size":"1M"}""")).Status);
        await Meet(0, nexus);
        var lun = _host.FindLun(Iqn, 4)!;
        await using var connected = await ConnectNbd("hp-lun4");
        await connected.ReadAsync(0, new byte[4096]);

        var (status, json) = await Send(HttpMethod.Delete, $"v1/luns/{Iqn}/4");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("orderly", json.GetProperty("removal").GetString());
        Assert.Null(_host.FindLun(Iqn, 4));
        Assert.Null(lun.Adapter.GetLogicalUnit(lun.Address));
        var removed = Assert.Single(_host.Port.Events.WithId(StorageEventIds.LunRemoved));
        Assert.Equal(lun.Address.ToString(), removed.Data["Address"]);
        Assert.Equal("orderly", removed.Data["Removal"]);
        Assert.DoesNotContain(_host.NbdExports, e => e.Export.Name == "hp-lun4");
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectNbd("hp-lun4"));
        // A connection made before the removal stays open, but its requests now fail.
        await Assert.ThrowsAsync<BlockDeviceException>(() => connected.ReadAsync(0, new byte[4096]).AsTask());
        var (s, asc, ascq, _) = await Scsi(0, nexus, TestUnitReady);
        Assert.Equal((ScsiStatus.CheckCondition, 0x3F, 0x0E), (s, asc, ascq));
        // The number is free again.
        Assert.Equal(HttpStatusCode.Created, (await Send(HttpMethod.Post, $"v1/luns/{Iqn}/4", """{"size":"1M"}""")).Status);
    }

    [Fact]
    public async Task Surprise_remove_is_recorded_as_such()
    {
        var (status, json) = await Send(HttpMethod.Delete, $"v1/luns/{Iqn}/7?surprise=true");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("surprise", json.GetProperty("removal").GetString());
        Assert.Equal("surprise", Assert.Single(_host.Port.Events.WithId(StorageEventIds.LunRemoved)).Data["Removal"]);
        Assert.Null(_host.FindLun(Iqn, 7));
    }

    [Theory]
    [InlineData("v1/luns/" + Iqn + "/9", HttpStatusCode.NotFound, "target")]
    [InlineData("v1/luns/iqn.2026-11.io.storsharp:nope/0", HttpStatusCode.NotFound, "target")]
    [InlineData("v1/luns/" + Iqn + "/0?surprise=maybe", HttpStatusCode.BadRequest, "surprise")]
    [InlineData("v1/luns/" + Iqn + "/0?force=true", HttpStatusCode.BadRequest, "force")]
    public async Task A_refused_remove_names_the_field_and_changes_nothing(string path, HttpStatusCode expected, string field)
    {
        var before = Snapshot();
        var (status, json) = await Send(HttpMethod.Delete, path);
        Assert.Equal(expected, status);
        Assert.Equal(field, json.GetProperty("field").GetString());
        Assert.Equal(before, Snapshot());
        Assert.Empty(_host.Port.Events.WithId(StorageEventIds.LunRemoved));
    }

    [Fact]
    public async Task Resize_grows_the_lun_tells_every_nexus_and_new_nbd_connections_see_the_new_size()
    {
        var nexus = new InitiatorNexus("iqn.test:i3", "t3");
        await Meet(0, nexus);
        await using (var before = await ConnectNbd("hp0")) Assert.Equal(1 << 20, before.Geometry.SizeBytes);
        var lun = _host.FindLun(Iqn, 0)!;
        var data = Enumerable.Range(0, 512).Select(i => (byte)(i * 3)).ToArray();
        await lun.Device.WriteAsync(100, data);

        var (status, json) = await Send(HttpMethod.Put, $"v1/luns/{Iqn}/0/size", """{"size":"4M"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(4 << 20, json.GetProperty("sizeBytes").GetInt64());
        Assert.Equal("ready", json.GetProperty("state").GetString());
        var (s, asc, ascq, _) = await Scsi(0, nexus, TestUnitReady);
        Assert.Equal((ScsiStatus.CheckCondition, 0x2A, 0x09), (s, asc, ascq));
        var capacity = await Scsi(0, nexus, ReadCapacity16, 32);
        Assert.Equal(ScsiStatus.Good, capacity.Status);
        Assert.Equal((4L << 20) / 512 - 1, System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(capacity.Data));
        var resized = Assert.Single(_host.Port.Events.WithId(StorageEventIds.LunResized));
        Assert.Equal((4 << 20).ToString(), resized.Data["SizeBytes"]);
        // The old data is still there, the new blocks read as zeros and can be written.
        var back = new byte[512];
        await lun.Device.ReadAsync(100, back);
        Assert.Equal(data, back);
        await using var after = await ConnectNbd("hp0");
        Assert.Equal(4 << 20, after.Geometry.SizeBytes);
        await after.ReadAsync((4 << 20) / 512 - 1, back);
        Assert.All(back, b => Assert.Equal(0, b));
        await after.WriteAsync((4 << 20) / 512 - 1, data);
    }

    [Theory]
    [InlineData("0", """{"size":"512K"}""", HttpStatusCode.BadRequest, "size")]
    [InlineData("0", """{"size":"1M"}""", HttpStatusCode.BadRequest, "size")]
    [InlineData("0", """{"size":3000000}""", HttpStatusCode.BadRequest, "size")]
    [InlineData("0", """{"size":"lots"}""", HttpStatusCode.BadRequest, "size")]
    [InlineData("0", """{"size":true}""", HttpStatusCode.BadRequest, "size")]
    [InlineData("0", """{}""", HttpStatusCode.BadRequest, "size")]
    [InlineData("0", """{"size":"4M","fast":true}""", HttpStatusCode.BadRequest, "fast")]
    [InlineData("9", """{"size":"4M"}""", HttpStatusCode.NotFound, "target")]
    [InlineData("7", """{"size":"4M"}""", HttpStatusCode.Conflict, "lun")]
    public async Task A_refused_resize_names_the_field_and_changes_nothing(string lun, string body, HttpStatusCode expected, string field)
    {
        var (status, json) = await Send(HttpMethod.Put, $"v1/luns/{Iqn}/{lun}/size", body);
        Assert.Equal(expected, status);
        Assert.Equal(field, json.GetProperty("field").GetString());
        Assert.Equal(1 << 20, _host.FindLun(Iqn, 0)!.Device.Geometry.SizeBytes);
        Assert.Equal(1 << 20, _host.FindLun(Iqn, 7)!.Device.Geometry.SizeBytes);
        Assert.Empty(_host.Port.Events.WithId(StorageEventIds.LunResized));
        Assert.False(_host.FindLun(Iqn, 0)!.Adapter.GetLogicalUnit(_host.FindLun(Iqn, 0)!.Address)!.IsPaused);
    }

    [Fact]
    public async Task A_paused_lun_is_not_resized_and_stays_paused()
    {
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"v1/luns/{Iqn}/0/pause", "{}")).Status);
        var (status, json) = await Send(HttpMethod.Put, $"v1/luns/{Iqn}/0/size", """{"size":"4M"}""");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("paused", json.GetProperty("error").GetString());
        var lun = _host.FindLun(Iqn, 0)!;
        Assert.Equal(1 << 20, lun.Device.Geometry.SizeBytes);
        Assert.True(lun.Adapter.GetLogicalUnit(lun.Address)!.IsPaused);
    }

    [Fact]
    public async Task The_lun_commands_of_the_cli_add_resize_and_remove_through_the_state_file()
    {
        var state = _dir.File("management.json");
        var (code, output, error) = await Cli(["lun", "add", Iqn, "2", "--size", "1M", "--export", "cli", "--state", state]);
        Assert.True(code == 0, error);
        Assert.Contains("Added LUN 2", output);
        Assert.Contains("NBD export cli", output);
        (code, output, _) = await Cli(["lun", "resize", Iqn, "2", "3M", "--state", state]);
        Assert.Equal(0, code);
        Assert.Contains("3 MiB", output);
        Assert.Equal(3 << 20, _host.FindLun(Iqn, 2)!.Device.Geometry.SizeBytes);
        (code, _, error) = await Cli(["lun", "resize", Iqn, "2", "2M", "--state", state]);
        Assert.Equal(2, code);
        Assert.Contains("size:", error);
        (code, _, error) = await Cli(["lun", "add", Iqn, "2", "--size", "1M", "--state", state]);
        Assert.Equal(2, code);
        Assert.Contains("exists", error);
        (code, _, error) = await Cli(["lun", "add", Iqn, "5", "--json", """{"size":"1M","faults":[{"kind":"nap"}]}""", "--state", state]);
        Assert.Equal(2, code);
        Assert.Contains("faults[0].kind", error);
        (code, output, _) = await Cli(["lun", "remove", Iqn, "2", "--surprise", "--state", state]);
        Assert.Equal(0, code);
        Assert.Contains("surprise", output);
        Assert.Null(_host.FindLun(Iqn, 2));
    }

    [Fact]
    public async Task A_lun_added_with_a_file_backend_creates_the_file_and_grows_it()
    {
        var path = _dir.File("added.img");
        var (status, _) = await Send(HttpMethod.Post, $"v1/luns/{Iqn}/6", JsonSerializer.Serialize(new { backend = "file", path, create = true, size = "1M" }));
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(1 << 20, new FileInfo(path).Length);
        (status, _) = await Send(HttpMethod.Put, $"v1/luns/{Iqn}/6/size", """{"size":"2M"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2 << 20, new FileInfo(path).Length);
        (status, _) = await Send(HttpMethod.Delete, $"v1/luns/{Iqn}/6");
        Assert.Equal(HttpStatusCode.OK, status);
        // The backend is closed: the file can be opened exclusively again.
        await using var reopened = FileBlockDevice.Open(path);
        Assert.Equal(2 << 20, reopened.Geometry.SizeBytes);
    }

    private static async Task<(int Code, string Output, string Error)> Cli(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await StorSharp.Cli.StorSharpCommandLine.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
