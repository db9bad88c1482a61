using System.Net;
using StorSharp.Host.Configuration;

namespace StorSharp.Host.Tests.Configuration;

public sealed class ConfigurationLoaderTests
{
    private const string Minimal = """
        targets:
          - iqn: iqn.2026-11.io.storsharp:disk0
        luns:
          - number: 0
            size: 64M
        nbd:
          exports:
            - name: disk0
        """;

    private static ConfigurationError SingleError(string yaml, string source = "storsharp.yaml")
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Parse(yaml, source));
        Assert.True(e.Errors.Count == 1, "expected one error, got:\n" + e.Message);
        return e.Errors[0];
    }

    [Fact]
    public void Example_file_in_the_repository_loads()
    {
        var config = ConfigurationLoader.Load(Repo.PathOf("examples/storsharp.yaml"));
        Assert.Equal(2, config.Targets.Count);
        Assert.Equal(3, config.Luns.Count);
        Assert.Equal(3, config.Nbd.Exports.Count);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 3260), Assert.Single(config.Iscsi.Portals));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 10809), config.Nbd.Listen);
        Assert.Equal(TimeSpan.FromMilliseconds(250), config.Port.Tunables.BusyPauseTime);
        Assert.Equal(10u, config.Port.Tunables.DefaultTimeoutSeconds);
        var data = config.Luns[1];
        Assert.Equal(LunBackend.File, data.Backend);
        Assert.Equal(4096, data.BlockSize);
        Assert.Equal(256L << 20, data.SizeBytes);
        Assert.True(data.Create);
        Assert.Equal("DATA0001", data.Serial);
        var target = config.Targets[1];
        Assert.Equal("client1", target.Chap!.User);
        Assert.Equal("storsharp", target.MutualChap!.User);
        Assert.Equal(2, target.Acl.Count);
        Assert.True(config.Luns[2].ReadOnly);
        Assert.True(config.Luns[2].Removable);
    }

    [Fact]
    public void Minimal_file_fills_defaults_and_the_only_target()
    {
        var config = ConfigurationLoader.Parse(Minimal, "min.yaml");
        var lun = Assert.Single(config.Luns);
        Assert.Equal("iqn.2026-11.io.storsharp:disk0", lun.Target);
        Assert.Equal(LunBackend.Ram, lun.Backend);
        Assert.Equal(512, lun.BlockSize);
        Assert.Equal(64L << 20, lun.SizeBytes);
        Assert.Equal("iqn.2026-11.io.storsharp:disk0", config.Nbd.Exports[0].Target);
        Assert.Equal(8, config.Port.MaximumBuses);
        Assert.True(config.Iscsi.Enabled);
        Assert.Equal("min.yaml", config.SourceName);
        Assert.StartsWith("SS", lun.EffectiveSerial);
        Assert.Equal(lun.EffectiveSerial, (lun with { }).EffectiveSerial); // stable
    }

    [Fact]
    public void An_nbd_lun_takes_its_uri_timeout_and_reconnect_settings()
    {
        var yaml = Minimal.Replace("size: 64M", "backend: nbd\n    uri: nbd+unix:///disk0?socket=/run/nbd.sock\n    timeout: 5s\n    reconnect:\n      delay: 50ms\n      maxDelay: 2s\n      attempts: 7\n      maxTime: 1m\n      wait: 20s");

        var lun = Assert.Single(ConfigurationLoader.Parse(yaml, "nbd.yaml").Luns);

        Assert.Equal(LunBackend.Nbd, lun.Backend);
        Assert.Equal("nbd+unix:///disk0?socket=/run/nbd.sock", lun.Uri);
        Assert.Equal(TimeSpan.FromSeconds(5), lun.Timeout);
        Assert.Equal(new NbdReconnectSettings
        {
            Delay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromSeconds(2), Attempts = 7, MaxTime = TimeSpan.FromMinutes(1), Wait = TimeSpan.FromSeconds(20),
        }, lun.Reconnect);
        Assert.Null(lun.SizeBytes);
    }

    [Fact]
    public void Json_is_read_with_lines()
    {
        const string json = """
            {
              "targets": [ { "iqn": "iqn.2026-11.io.storsharp:disk0" } ],
              "luns": [
                { "number": 0, "size": "1G",
                  "blockSize": 1024 }
              ],
              "nbd": { "enabled": false }
            }
            """;
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Parse(json, "storsharp.json"));
        var error = Assert.Single(e.Errors);
        Assert.Equal(5, error.Line);
        Assert.Equal("luns[0].blockSize", error.Field);
        Assert.Equal("storsharp.json line 5: luns[0].blockSize: 1024 is not supported; use 512 or 4096", error.ToString());

        var ok = ConfigurationLoader.Parse(json.Replace("1024", "4096"), "storsharp.json");
        Assert.Equal(4096, ok.Luns[0].BlockSize);
        Assert.False(ok.Nbd.Enabled);
    }

    [Fact]
    public void Json_syntax_error_names_the_line()
    {
        var error = SingleError("{\n  \"luns\": [\n    { \"size\": 1G }\n  ]\n}", "bad.json");
        Assert.Equal(3, error.Line);
        Assert.StartsWith("bad.json line 3: JSON syntax error", error.ToString());
    }

    [Fact]
    public void Yaml_syntax_error_names_the_line()
    {
        var error = SingleError("targets:\n  - iqn: a\n luns: [\n", "broken.yaml");
        Assert.True(error.Line >= 2, error.ToString());
        Assert.Contains("YAML syntax error", error.Message);
        Assert.StartsWith($"broken.yaml line {error.Line}: ", error.ToString());
    }

    [Fact]
    public void A_flow_sequence_continued_on_a_less_indented_line_is_a_syntax_error_not_a_crash()
    {
        // YamlDotNet's scanner throws InvalidOperationException on this text rather than a YamlException.
        var error = SingleError("luns:\n  - size: 64M\n    faults: [ { kind: delay,\n  operations: media } ]\n", "flow.yaml");
        Assert.Contains("YAML syntax error", error.Message);
        Assert.InRange(error.Line, 3, 4);
        Assert.StartsWith($"flow.yaml line {error.Line}: ", error.ToString());
    }

    [Fact]
    public void Repeated_key_is_an_error_naming_the_line()
    {
        var error = SingleError(Minimal.Replace("size: 64M", "size: 64M\n    size: 1G"));
        Assert.Equal(6, error.Line);
        Assert.Equal("storsharp.yaml line 6: 'size' is given twice in one mapping", error.ToString());
    }

    [Fact]
    public void Empty_file_is_an_error()
    {
        var error = SingleError("# nothing\n", "empty.yaml");
        Assert.Contains("empty", error.Message);
    }

    [Fact]
    public void Missing_file_is_an_error_naming_it()
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load("/nonexistent/storsharp.yaml"));
        Assert.Contains("/nonexistent/storsharp.yaml", e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void A_dvd_may_be_configured_empty_with_backend_none()
    {
        var config = ConfigurationLoader.Parse(Minimal.Replace("size: 64M", "device: dvd\n    backend: none").Replace("nbd:\n  exports:\n    - name: disk0", "nbd: off"), "storsharp.yaml");
        var lun = Assert.Single(config.Luns);
        Assert.Equal((LunDevice.Dvd, LunBackend.None, null, null), (lun.Device, lun.Backend, lun.Path, lun.SizeBytes));
        Assert.True(lun.ReadOnly && lun.Removable);
    }

    [Fact]
    public void A_dvd_file_must_hold_whole_2048_byte_sectors()
    {
        var path = Path.Combine(Path.GetTempPath(), $"storsharp-odd-{Guid.NewGuid():N}.iso");
        File.WriteAllBytes(path, new byte[3 * 2048 + 512]);
        try
        {
            var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Parse(Minimal.Replace("size: 64M", $"device: dvd\n    backend: file\n    path: {path}"), "storsharp.yaml"));
            var error = Assert.Single(e.Errors);
            Assert.Equal($"storsharp.yaml line 7: luns[0].path: {path} is 6656 bytes, not a whole number of 2048-byte sectors (an ISO image is; make one with xorriso -as mkisofs)", error.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_documented_example_message()
    {
        var yaml = Minimal.Replace("size: 64M", "size: 64M\n    blockSize: 1024");
        var error = SingleError(yaml);
        Assert.Equal("storsharp.yaml line 6: luns[0].blockSize: 1024 is not supported; use 512 or 4096", error.ToString());
    }

    public static TheoryData<string, string, int, string, string> InvalidFiles() => new()
    {
        // name, yaml (Minimal with a change), expected line, field, message fragment
        { "unknown field with hint", Minimal.Replace("size: 64M", "size: 64M\n    blocksize: 512"), 6, "luns[0].blocksize", "did you mean 'blockSize'?" },
        { "unknown top-level field", "lunz: []\n" + Minimal, 1, "lunz", "did you mean 'luns'?" },
        { "size not a size", Minimal.Replace("64M", "lots"), 5, "luns[0].size", "'lots' is not a size" },
        { "size not whole blocks", Minimal.Replace("64M", "1000\n    blockSize: 4096"), 5, "luns[0].size", "not a whole number of 4096-byte blocks" },
        { "size zero", Minimal.Replace("64M", "0"), 5, "luns[0].size", "more than 0" },
        { "ram needs a size", Minimal.Replace("size: 64M", "backend: ram"), 4, "luns[0].size", "required for a ram backend" },
        { "ram has no path", Minimal.Replace("size: 64M", "size: 64M\n    path: /tmp/x"), 6, "luns[0].path", "only for backend: file" },
        { "bad backend", Minimal.Replace("size: 64M", "size: 64M\n    backend: tape"), 6, "luns[0].backend", "'tape' is not a backend; use ram, file, image or nbd" },
        { "bad device kind", Minimal.Replace("size: 64M", "size: 64M\n    device: tape"), 6, "luns[0].device", "'tape' is not a device kind" },
        { "dvd needs an iso", Minimal.Replace("size: 64M", "size: 64M\n    device: dvd"), 4, "luns[0].backend", "a dvd's disc is an ISO image: use backend: file or image" },
        { "none is only for a dvd", Minimal.Replace("size: 64M", "backend: none"), 5, "luns[0].backend", "none is only for device: dvd (an empty drive)" },
        { "an empty drive has no path", Minimal.Replace("size: 64M", "device: dvd\n    backend: none\n    path: /etc/hostname"), 7, "luns[0].path", "an empty drive (backend: none) has no disc" },
        { "an empty drive has no size", Minimal.Replace("size: 64M", "size: 64M\n    device: dvd\n    backend: none"), 5, "luns[0].size", "an empty drive (backend: none) has no disc" },
        { "dvd iso smaller than a sector", Minimal.Replace("size: 64M", "backend: file\n    path: /etc/hostname\n    device: dvd"), 6, "luns[0].path", "smaller than one 2048-byte sector" },
        { "dvd is read-only", Minimal.Replace("size: 64M", "backend: image\n    path: /etc/hostname\n    device: dvd\n    readOnly: false"), 8, "luns[0].readOnly", "a dvd is read-only" },
        { "dvd reads 2048-byte sectors", Minimal.Replace("size: 64M", "backend: image\n    path: /etc/hostname\n    device: dvd\n    blockSize: 4096"), 8, "luns[0].blockSize", "leave blockSize out (512)" },
        { "nvme is not removable", Minimal.Replace("size: 64M", "size: 64M\n    device: nvme\n    removable: true"), 7, "luns[0].removable", "an nvme namespace is not removable" },
        { "image needs a path", Minimal.Replace("size: 64M", "backend: image"), 4, "luns[0].path", "required for an image backend" },
        { "image has its own size", Minimal.Replace("size: 64M", "size: 64M\n    backend: image\n    path: /etc/hostname"), 5, "luns[0].size", "an image has its own virtual size" },
        { "image missing", Minimal.Replace("size: 64M", "backend: image\n    path: /nonexistent-storsharp/disk.qcow2"), 6, "luns[0].path", "/nonexistent-storsharp/disk.qcow2 does not exist" },
        { "image cannot be created", Minimal.Replace("size: 64M", "backend: image\n    path: /etc/hostname\n    create: true"), 7, "luns[0].create", "make images with qemu-img create" },
        { "unknown image format", Minimal.Replace("size: 64M", "backend: image\n    path: /etc/hostname\n    format: floppy"), 7, "luns[0].format", "'floppy' is not an image format; use auto, raw" },
        { "format on a file backend", Minimal.Replace("size: 64M", "size: 64M\n    backend: file\n    path: /etc/hostname\n    format: qcow2"), 8, "luns[0].format", "only for backend: image" },
        { "format on a ram backend", Minimal.Replace("size: 64M", "size: 64M\n    format: raw"), 6, "luns[0].format", "only for backend: image" },
        { "nbd needs a uri", Minimal.Replace("size: 64M", "backend: nbd"), 4, "luns[0].uri", "required for an nbd backend" },
        { "nbd uri not nbd", Minimal.Replace("size: 64M", "backend: nbd\n    uri: http://127.0.0.1/disk0"), 6, "luns[0].uri", "unknown scheme 'http'" },
        { "nbd uri without socket", Minimal.Replace("size: 64M", "backend: nbd\n    uri: nbd+unix:///disk0"), 6, "luns[0].uri", "has no socket" },
        { "nbd has its own size", Minimal.Replace("size: 64M", "size: 64M\n    backend: nbd\n    uri: nbd://127.0.0.1/disk0"), 5, "luns[0].size", "an NBD export has its own size" },
        { "nbd takes no path", Minimal.Replace("size: 64M", "backend: nbd\n    uri: nbd://127.0.0.1/disk0\n    path: /tmp/x"), 7, "luns[0].path", "an nbd backend takes a uri" },
        { "uri on a ram backend", Minimal.Replace("size: 64M", "size: 64M\n    uri: nbd://127.0.0.1/disk0"), 6, "luns[0].uri", "only for backend: nbd" },
        { "timeout on a ram backend", Minimal.Replace("size: 64M", "size: 64M\n    timeout: 5s"), 6, "luns[0].timeout", "only for backend: nbd" },
        { "nbd timeout not a duration", Minimal.Replace("size: 64M", "backend: nbd\n    uri: nbd://127.0.0.1/disk0\n    timeout: soon"), 7, "luns[0].timeout", "soon" },
        { "nbd timeout zero", Minimal.Replace("size: 64M", "backend: nbd\n    uri: nbd://127.0.0.1/disk0\n    timeout: 0s"), 7, "luns[0].timeout", "must be more than 0" },
        { "nbd reconnect unknown field", Minimal.Replace("size: 64M", "backend: nbd\n    uri: nbd://127.0.0.1/disk0\n    reconnect:\n      tries: 3"), 8, "luns[0].reconnect.tries", "tries" },
        { "nbd reconnect delays backwards", Minimal.Replace("size: 64M", "backend: nbd\n    uri: nbd://127.0.0.1/disk0\n    reconnect:\n      delay: 2s\n      maxDelay: 1s"), 9, "luns[0].reconnect.maxDelay", "must be at least reconnect.delay" },
        { "nbd reconnect negative attempts", Minimal.Replace("size: 64M", "backend: nbd\n    uri: nbd://127.0.0.1/disk0\n    reconnect:\n      attempts: -1"), 8, "luns[0].reconnect.attempts", "is negative" },
        { "file needs a path", Minimal.Replace("size: 64M", "size: 64M\n    backend: file"), 4, "luns[0].path", "required for a file backend" },
        { "file missing without create", Minimal.Replace("size: 64M", "size: 64M\n    backend: file\n    path: /nonexistent-storsharp/disk.img"), 7, "luns[0].path", "does not exist; set create: true" },
        { "create in missing folder", Minimal.Replace("size: 64M", "size: 64M\n    backend: file\n    create: true\n    path: /nonexistent-storsharp/disk.img"), 8, "luns[0].path", "the folder /nonexistent-storsharp does not exist" },
        { "lun number out of range", Minimal.Replace("number: 0", "number: 20000"), 4, "luns[0].number", "use 0 to 16383" },
        { "lun number not a number", Minimal.Replace("number: 0", "number: zero"), 4, "luns[0].number", "'zero' is not a whole number" },
        { "duplicate lun", Minimal.Replace("luns:", "luns:\n  - number: 0\n    size: 1M"), 6, "luns[1].number", "LUN 0 of iqn.2026-11.io.storsharp:disk0 is already luns[0]" },
        { "lun of unknown target", Minimal.Replace("- number: 0", "- number: 0\n    target: iqn.2026-11.io.storsharp:other"), 5, "luns[0].target", "is not one of the targets" },
        { "bool not a bool", Minimal.Replace("size: 64M", "size: 64M\n    readOnly: maybe"), 6, "luns[0].readOnly", "'maybe' is not true or false" },
        { "product id too long", Minimal.Replace("size: 64M", "size: 64M\n    productId: A product name that is far too long"), 6, "luns[0].productId", "1 to 16 printable ASCII" },
        { "serial with space", Minimal.Replace("size: 64M", "size: 64M\n    serial: AB CD"), 6, "luns[0].serial", "without spaces" },
        { "bad iqn", Minimal.Replace("iqn: iqn.2026-11.io.storsharp:disk0", "iqn: disk0"), 2, "targets[0].iqn", "'disk0' is not a target name" },
        { "bad month in iqn", Minimal.Replace("iqn.2026-11", "iqn.2026-13"), 2, "targets[0].iqn", "is not a target name" },
        { "target without iqn", Minimal.Replace("- iqn: iqn.2026-11.io.storsharp:disk0", "- alias: x"), 2, "targets[0].iqn", "is required" },
        { "duplicate target", Minimal.Replace("targets:", "targets:\n  - iqn: iqn.2026-11.io.storsharp:disk0"), 3, "targets[1].iqn", "already targets[0]" },
        { "bad acl name", Minimal.Replace("- iqn: iqn.2026-11.io.storsharp:disk0", "- iqn: iqn.2026-11.io.storsharp:disk0\n    acl: [client1]"), 3, "targets[0].acl[0]", "'client1' is not an initiator name" },
        { "short chap secret", Minimal.Replace("- iqn: iqn.2026-11.io.storsharp:disk0", "- iqn: iqn.2026-11.io.storsharp:disk0\n    chap: { user: u, secret: short }"), 3, "targets[0].chap.secret", "is 5 characters; use 12 to 255" },
        { "chap without secret", Minimal.Replace("- iqn: iqn.2026-11.io.storsharp:disk0", "- iqn: iqn.2026-11.io.storsharp:disk0\n    chap: { user: u }"), 3, "targets[0].chap.secret", "is required" },
        { "mutual chap alone", Minimal.Replace("- iqn: iqn.2026-11.io.storsharp:disk0", "- iqn: iqn.2026-11.io.storsharp:disk0\n    mutualChap: { user: t, secret: target-secret-1 }"), 3, "targets[0].mutualChap", "needs chap too" },
        { "mutual chap same secret", Minimal.Replace("- iqn: iqn.2026-11.io.storsharp:disk0", "- iqn: iqn.2026-11.io.storsharp:disk0\n    chap: { user: u, secret: same-secret-123 }\n    mutualChap: { user: t, secret: same-secret-123 }"), 4, "targets[0].mutualChap.secret", "must differ from chap.secret" },
        { "no luns", "targets:\n  - iqn: iqn.2026-11.io.storsharp:disk0\nluns: []\nnbd: off\n", 3, "luns", "no LUN is listed" },
        { "export of missing lun", Minimal.Replace("- name: disk0", "- name: disk0\n      lun: 7"), 9, "nbd.exports[0].lun", "has no LUN 7" },
        { "duplicate export", Minimal + "\n    - name: disk0", 9, "nbd.exports[1].name", "already nbd.exports[0]" },
        { "nbd on without exports", Minimal.Replace("  exports:\n    - name: disk0", "  enabled: true"), 7, "nbd.exports", "no export is listed" },
        { "bad portal", Minimal + "\niscsi:\n  portals: [ 'example.com:3260' ]", 10, "iscsi.portals[0]", "'example.com' is not an IP address" },
        { "bad port", Minimal + "\niscsi:\n  portals: [ '127.0.0.1:70000' ]", 10, "iscsi.portals[0]", "'70000' is not a TCP port" },
        { "portal clashes with nbd", Minimal.Replace("nbd:", "nbd:\n  listen: 127.0.0.1:3260"), 7, "nbd.listen", "is also iscsi.portals[0]" },
        { "receive poll too long", Minimal.Replace("nbd:", "nbd:\n  receivePoll: 11ms"), 7, "nbd.receivePoll", "use at most 10ms, or off" },
        { "receive poll bad unit", Minimal.Replace("nbd:", "nbd:\n  receivePoll: 5 ns"), 7, "nbd.receivePoll", "'ns' is not a time unit; use us, ms, s, m or h" },
        { "iscsi with no portal", Minimal + "\niscsi:\n  portals: []", 10, "iscsi.portals", "no portal is listed" },
        { "buses out of range", "port:\n  maximumBuses: 300\n" + Minimal, 2, "port.maximumBuses", "use 1 to 255" },
        { "duration without unit", "port:\n  tunables:\n    busyPause: 250\n" + Minimal, 3, "port.tunables.busyPause", "needs a unit" },
        { "duration bad unit", "port:\n  tunables:\n    linkDownTimeout: 5 days\n" + Minimal, 3, "port.tunables.linkDownTimeout", "'days' is not a time unit" },
        { "link down too long", "port:\n  tunables:\n    linkDownTimeout: 11m\n" + Minimal, 3, "port.tunables.linkDownTimeout", "use 0 to 600s" },
        { "default timeout range", "port:\n  tunables:\n    defaultTimeout: 300\n" + Minimal, 3, "port.tunables.defaultTimeout", "use 1 to 255 seconds" },
        { "retry count range", "port:\n  tunables:\n    busyRetryCount: -1\n" + Minimal, 3, "port.tunables.busyRetryCount", "use 0 to 1000" },
        { "percentage range", "port:\n  tunables:\n    queueFullWaitIoPercentage: 0\n" + Minimal, 3, "port.tunables.queueFullWaitIoPercentage", "use 1 to 100" },
        { "heartbeat range", "port:\n  heartbeatInterval: 0ms\n" + Minimal, 2, "port.heartbeatInterval", "more than 0" },
        { "mapping expected", "port: 8\n" + Minimal, 1, "port", "expected a mapping" },
        { "list expected", Minimal.Replace("luns:\n  - number: 0\n    size: 64M", "luns: ram"), 3, "luns", "expected a list" },
    };

    [Theory]
    [MemberData(nameof(InvalidFiles))]
    public void Every_validation_error_names_line_and_field(string name, string yaml, int line, string field, string fragment)
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Parse(yaml, "storsharp.yaml"));
        var error = e.Errors.FirstOrDefault(x => x.Field == field);
        Assert.True(error is not null, $"{name}: no error for {field} in:\n{e.Message}");
        Assert.Contains(fragment, error.Message);
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"storsharp.yaml line {line}: {field}: ", error.ToString());
    }

    [Theory]
    [InlineData(null, 50)]
    [InlineData("20us", 20)]
    [InlineData("1.5ms", 1500)]
    [InlineData("off", 0)]
    [InlineData("0us", 0)]
    public void Nbd_receive_poll_takes_microseconds_and_off(string? value, int microseconds)
    {
        var yaml = value is null ? Minimal : Minimal.Replace("nbd:", $"nbd:\n  receivePoll: {value}");
        Assert.Equal(TimeSpan.FromMicroseconds(microseconds), ConfigurationLoader.Parse(yaml, "s.yaml").Nbd.ReceivePoll);
    }

    [Fact]
    public void All_errors_are_reported_at_once_in_line_order()
    {
        var yaml = Minimal.Replace("size: 64M", "size: 64M\n    blockSize: 1024\n    readOnly: maybe").Replace("iqn: iqn.2026-11.io.storsharp:disk0", "iqn: iqn.2026-11.io.storsharp:disk0\n    chap: { user: u, secret: x }");
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Parse(yaml, "s.yaml"));
        Assert.Equal(3, e.Errors.Count);
        Assert.Equal(e.Errors.OrderBy(x => x.Line), e.Errors);
        Assert.Equal(3, e.Message.Split('\n').Length);
    }

    [Fact]
    public void Existing_file_backend_takes_the_files_size_and_relative_paths_follow_the_config_file()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("disk.img"), new byte[8192]);
        var path = dir.File("s.yaml", Minimal.Replace("size: 64M", "backend: file\n    path: disk.img") + "\neventLog: logs/events.jsonl");
        var config = ConfigurationLoader.Load(path);
        Assert.Equal(dir.File("disk.img"), config.Luns[0].Path);
        Assert.Null(config.Luns[0].SizeBytes);
        Assert.Equal(Path.Combine(dir.Path, "logs", "events.jsonl"), config.EventLog);

        File.WriteAllText(path, Minimal.Replace("size: 64M", "backend: file\n    path: disk.img\n    size: 1M"));
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load(path));
        Assert.Contains("luns[0].size: 1048576 bytes differs from the size of", e.Message);

        File.WriteAllBytes(dir.File("odd.img"), new byte[1000]);
        File.WriteAllText(path, Minimal.Replace("size: 64M", "backend: file\n    path: odd.img"));
        e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Load(path));
        Assert.Contains("not a whole number of 512-byte blocks", e.Message);
    }

    [Fact]
    public void Off_values_turn_things_off()
    {
        var config = ConfigurationLoader.Parse(Minimal.Replace("nbd:\n  exports:\n    - name: disk0", "nbd: off\niscsi:\n  enabled: false\neventLog: off"), "s.yaml");
        Assert.False(config.Nbd.Enabled);
        Assert.False(config.Iscsi.Enabled);
        Assert.Null(config.EventLog);
    }

    [Fact]
    public void Chap_secret_is_never_printed()
    {
        var chap = new ChapCredentials("user", "very-secret-value");
        Assert.DoesNotContain("very-secret-value", chap.ToString());
        var target = new TargetSettings { Iqn = "iqn.2026-11.io.storsharp:x", Chap = chap };
        Assert.DoesNotContain("very-secret-value", target.ToString());
    }

    [Theory]
    [InlineData("1G", 1L << 30)]
    [InlineData("1GiB", 1L << 30)]
    [InlineData("1 GB", 1L << 30)]
    [InlineData("512M", 512L << 20)]
    [InlineData("4096", 4096)]
    [InlineData("4k", 4096)]
    [InlineData("1.5K", 1536)]
    [InlineData("2T", 2L << 40)]
    public void Sizes_parse(string text, long bytes)
    {
        Assert.True(SizeParser.TryParse(text, out var value, out var problem), problem);
        Assert.Equal(bytes, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("1X")]
    [InlineData("0.3")]
    [InlineData("-1G")]
    public void Bad_sizes_do_not_parse(string text) => Assert.False(SizeParser.TryParse(text, out _, out _));

    [Theory]
    [InlineData("127.0.0.1:3260", "127.0.0.1:3260")]
    [InlineData("0.0.0.0:1", "0.0.0.0:1")]
    [InlineData("[::1]:10809", "[::1]:10809")]
    [InlineData("localhost:5", "127.0.0.1:5")]
    [InlineData("127.0.0.1", "127.0.0.1:3260")]
    [InlineData(":9000", "0.0.0.0:9000")]
    public void Endpoints_parse(string text, string expected)
    {
        Assert.True(EndpointParser.TryParse(text, 3260, out var ep, out var problem), problem);
        Assert.Equal(expected, ep.ToString());
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("30s", 30_000)]
    [InlineData("1.5s", 1500)]
    [InlineData("2m", 120_000)]
    public void Durations_parse(string text, double ms)
    {
        Assert.True(DurationParser.TryParse(text, out var value, out var problem), problem);
        Assert.Equal(ms, value.TotalMilliseconds);
    }
}
