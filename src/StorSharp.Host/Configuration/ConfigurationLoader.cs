using System.Globalization;
using System.Net;
using StorSharp.Port;

namespace StorSharp.Host.Configuration;

/// <summary>
/// Reads a configuration file (YAML, or JSON when the name ends in <c>.json</c> or the text
/// starts with <c>{</c>) into a <see cref="StorSharpConfiguration"/>, and validates it.
/// Every problem is reported with the file, the line and the field:
/// <c>storsharp.yaml line 12: luns[0].blockSize: 1024 is not supported; use 512 or 4096</c>.
/// </summary>
public static class ConfigurationLoader
{
    /// <summary>Reads and validates the file at <paramref name="path"/>.</summary>
    /// <exception cref="ConfigurationException">The file is missing, unreadable, malformed or not valid.</exception>
    public static StorSharpConfiguration Load(string path) => Load(path, out _);

    internal static StorSharpConfiguration Load(string path, out ConfigLocator locator)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var reason = e is FileNotFoundException or DirectoryNotFoundException ? "the file does not exist" : e.Message;
            throw new ConfigurationException([new ConfigurationError(path, 0, 0, "", $"cannot read the configuration: {reason}")]);
        }
        var baseDirectory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? Directory.GetCurrentDirectory();
        return Parse(text, path, baseDirectory, out locator);
    }

    /// <summary>Reads and validates configuration text; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="ConfigurationException">The text is malformed or not valid.</exception>
    /// <remarks>Relative paths (<c>eventLog</c>, a LUN's <c>path</c>) are taken from the current folder; <see cref="Load(string)"/> takes them from the file's folder.</remarks>
    public static StorSharpConfiguration Parse(string text, string sourceName) => Parse(text, sourceName, Directory.GetCurrentDirectory(), out _);

    internal static StorSharpConfiguration Parse(string text, string sourceName, string baseDirectory, out ConfigLocator locator)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(sourceName);
        var root = ConfigDocumentReader.Read(sourceName, text);
        var binder = new ConfigurationBinder(sourceName);
        locator = binder.Locator;
        var config = binder.Bind(root) is { } bound ? ConfigurationValidator.Normalize(Rooted(bound, baseDirectory)) : null;
        var errors = new List<ConfigurationError>(binder.Errors);
        if (config is not null) errors.AddRange(ConfigurationValidator.Validate(config, binder.Locator));
        if (errors.Count > 0) throw new ConfigurationException(Sorted(errors));
        return config!;
    }

    /// <summary>
    /// Reads a list of fault rules (YAML or JSON text, the shape of <c>luns[].faults</c>), as the
    /// management API receives them. Errors name the field: <c>faults[0].rate: ...</c>.
    /// </summary>
    /// <exception cref="ConfigurationException">The text is malformed or a rule is out of range.</exception>
    public static IReadOnlyList<FaultRule> ParseFaultRules(string text, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(text);
        var root = ConfigDocumentReader.Read(sourceName, text);
        var binder = new ConfigurationBinder(sourceName);
        if (root is null) return [];
        var rules = binder.BindFaults(root, "faults");
        if (binder.Errors.Count > 0) throw new ConfigurationException(Sorted(binder.Errors));
        return rules;
    }

    /// <summary>
    /// Reads one LUN (JSON or YAML text, the shape of a <c>luns[]</c> entry) to add to a running
    /// server, and validates it as the configuration would be validated with it appended to
    /// <paramref name="runningLuns"/>. Errors name the field as the entry has it: <c>size</c>,
    /// <c>faults[0].rate</c>. A missing <c>target</c> and <c>number</c> are taken from
    /// <paramref name="target"/> and <paramref name="number"/>; given ones must agree.
    /// </summary>
    /// <param name="text">The entry.</param>
    /// <param name="running">The running configuration (targets, front ends).</param>
    /// <param name="runningLuns">The LUNs served now.</param>
    /// <param name="target">The target the LUN is added to.</param>
    /// <param name="number">Its LUN number.</param>
    /// <param name="extraFields">Fields the caller handles itself (left out of the entry, no error).</param>
    /// <param name="baseDirectory">The folder relative paths are taken from.</param>
    /// <exception cref="ConfigurationException">The text is malformed or the LUN is not valid.</exception>
    internal static LunSettings ParseLun(string text, StorSharpConfiguration running, IReadOnlyList<LunSettings> runningLuns,
        string target, int number, IReadOnlyCollection<string> extraFields, string baseDirectory)
    {
        const string source = "request";
        var root = ConfigDocumentReader.Read(source, text);
        var prefix = $"luns[{runningLuns.Count}]";
        if (root is ConfigMapping map) root = new ConfigMapping([.. map.Entries.Where(e => !extraFields.Contains(e.Key.Value ?? ""))], map.Line, map.Column);
        var binder = new ConfigurationBinder(source);
        if (root is null) throw new ConfigurationException([new ConfigurationError(source, 0, 0, "", "the body must be a LUN: an object in the shape of a luns[] entry (backend, size, ...)")]);
        var lun = binder.BindLun(root, prefix);
        var errors = new List<ConfigurationError>(binder.Errors);
        if (errors.Count == 0)
        {
            if (lun.Target.Length == 0) lun = lun with { Target = target };
            else if (!string.Equals(lun.Target, target, StringComparison.OrdinalIgnoreCase))
                errors.Add(new ConfigurationError(source, 0, 0, $"{prefix}.target", $"is {lun.Target}, but the request is for {target}; leave it out"));
            if (root is ConfigMapping m && m.Entries.Any(e => e.Key.Value == "number") && lun.Number != number)
                errors.Add(new ConfigurationError(source, 0, 0, $"{prefix}.number", $"is {lun.Number}, but the request is for LUN {number}; leave it out"));
            lun = lun with { Number = number, Path = string.IsNullOrWhiteSpace(lun.Path) ? lun.Path : Path.GetFullPath(lun.Path, baseDirectory) };
            var whole = running with { Luns = [.. runningLuns, lun], Nbd = running.Nbd with { Exports = [] } };
            errors.AddRange(ConfigurationValidator.Validate(whole, binder.Locator).Where(e => e.Field == prefix || e.Field.StartsWith(prefix + ".", StringComparison.Ordinal)));
        }
        if (errors.Count > 0)
            throw new ConfigurationException([.. Sorted(errors).Select(e => e with { Field = e.Field == prefix ? "" : e.Field.StartsWith(prefix + ".", StringComparison.Ordinal) ? e.Field[(prefix.Length + 1)..] : e.Field })]);
        return lun;
    }

    /// <summary>Makes relative paths absolute against the configuration file's folder.</summary>
    private static StorSharpConfiguration Rooted(StorSharpConfiguration config, string baseDirectory)
    {
        string? Root(string? path) => string.IsNullOrWhiteSpace(path) ? path : Path.GetFullPath(path, baseDirectory);
        return config with
        {
            EventLog = Root(config.EventLog),
            Management = config.Management with { StateFile = Root(config.Management.StateFile)! },
            Luns = [.. config.Luns.Select(l => l with { Path = Root(l.Path) })],
        };
    }

    internal static List<ConfigurationError> Sorted(IEnumerable<ConfigurationError> errors) =>
        [.. errors.Distinct().OrderBy(e => e.Line == 0 ? int.MaxValue : e.Line).ThenBy(e => e.Column)];
}

/// <summary>Turns a <see cref="ConfigNode"/> tree into the configuration model, collecting type errors.</summary>
internal sealed partial class ConfigurationBinder(string source)
{
    private readonly List<ConfigurationError> _errors = [];

    public ConfigLocator Locator { get; } = new(source);

    public IReadOnlyList<ConfigurationError> Errors => _errors;

    public StorSharpConfiguration? Bind(ConfigNode? root)
    {
        if (root is null)
        {
            _errors.Add(new ConfigurationError(source, 1, 1, "", "the file is empty; see examples/storsharp.yaml for a starting point"));
            return null;
        }
        var map = AsMapping(root, "");
        if (map is null) return null;
        var fields = Fields(map, "", "port", "eventLog", "iscsi", "nbd", "targets", "luns", "management");
        var defaults = new StorSharpConfiguration();
        return new StorSharpConfiguration
        {
            SourceName = source,
            Port = fields.TryGetValue("port", out var port) ? BindPort(port, "port") : new PortSettings(),
            EventLog = fields.TryGetValue("eventLog", out var log) ? OptionalPath(log, "eventLog") : defaults.EventLog,
            Iscsi = fields.TryGetValue("iscsi", out var iscsi) ? BindIscsi(iscsi, "iscsi") : new IscsiSettings(),
            Nbd = fields.TryGetValue("nbd", out var nbd) ? BindNbd(nbd, "nbd") : new NbdSettings(),
            Targets = fields.TryGetValue("targets", out var targets) ? List(targets, "targets", BindTarget) : [],
            Luns = fields.TryGetValue("luns", out var luns) ? List(luns, "luns", BindLun) : [],
            Management = fields.TryGetValue("management", out var management) ? BindManagement(management, "management") : new ManagementSettings(),
        };
    }

    private PortSettings BindPort(ConfigNode node, string path)
    {
        var result = new PortSettings();
        if (AsMapping(node, path) is not { } map) return result;
        var f = Fields(map, path, "maximumBuses", "heartbeatInterval", "tunables");
        var tunables = new PortTunables();
        if (f.TryGetValue("tunables", out var t) && AsMapping(t, $"{path}.tunables") is { } tm)
        {
            var tp = $"{path}.tunables";
            var tf = Fields(tm, tp, "busyPause", "busyRetryCount", "queueFullWaitIoPercentage", "linkDownTimeout",
                "defaultTimeout", "resetTimeout", "classRetryCount", "classRetryInterval");
            tunables = new PortTunables
            {
                BusyPauseTime = Duration(tf, "busyPause", tp) ?? tunables.BusyPauseTime,
                BusyRetryCount = Int(tf, "busyRetryCount", tp) ?? tunables.BusyRetryCount,
                QueueFullWaitIoPercentage = Int(tf, "queueFullWaitIoPercentage", tp) ?? tunables.QueueFullWaitIoPercentage,
                LinkDownTimeout = Duration(tf, "linkDownTimeout", tp) ?? tunables.LinkDownTimeout,
                DefaultTimeoutSeconds = Seconds(tf, "defaultTimeout", tp) ?? tunables.DefaultTimeoutSeconds,
                ResetTimeout = Duration(tf, "resetTimeout", tp) ?? tunables.ResetTimeout,
                ClassRetryCount = Int(tf, "classRetryCount", tp) ?? tunables.ClassRetryCount,
                ClassRetryInterval = Duration(tf, "classRetryInterval", tp) ?? tunables.ClassRetryInterval,
            };
        }
        return new PortSettings
        {
            MaximumBuses = Int(f, "maximumBuses", path) ?? result.MaximumBuses,
            HeartbeatInterval = Duration(f, "heartbeatInterval", path) ?? result.HeartbeatInterval,
            Tunables = tunables,
        };
    }

    private IscsiSettings BindIscsi(ConfigNode node, string path)
    {
        var result = new IscsiSettings();
        if (node is ConfigScalar s && IsOff(s.Value)) return result with { Enabled = false };
        if (AsMapping(node, path) is not { } map) return result;
        var f = Fields(map, path, "enabled", "portals");
        return new IscsiSettings
        {
            Enabled = Bool(f, "enabled", path) ?? true,
            Portals = f.TryGetValue("portals", out var p) ? List(p, $"{path}.portals", (n, ip) => Endpoint(n, ip, StorSharpConfiguration.DefaultIscsiPort)) : result.Portals,
        };
    }

    private NbdSettings BindNbd(ConfigNode node, string path)
    {
        var result = new NbdSettings();
        if (node is ConfigScalar s && IsOff(s.Value)) return result with { Enabled = false };
        if (AsMapping(node, path) is not { } map) return result;
        var f = Fields(map, path, "enabled", "listen", "receivePoll", "exports");
        return new NbdSettings
        {
            Enabled = Bool(f, "enabled", path) ?? true,
            Listen = f.TryGetValue("listen", out var l) ? Endpoint(l, $"{path}.listen", StorSharpConfiguration.DefaultNbdPort) : result.Listen,
            ReceivePoll = Duration(f, "receivePoll", path, offIsZero: true) ?? result.ReceivePoll,
            Exports = f.TryGetValue("exports", out var e) ? List(e, $"{path}.exports", BindExport) : [],
        };
    }

    private ManagementSettings BindManagement(ConfigNode node, string path)
    {
        var result = new ManagementSettings();
        if (node is ConfigScalar s && IsOff(s.Value)) return result with { Enabled = false };
        if (AsMapping(node, path) is not { } map) return result;
        var f = Fields(map, path, "enabled", "listen", "token", "stateFile");
        var token = String(f, "token", path);
        if (token is not null && token.Length < 16) Error(f["token"], $"{path}.token", $"is {token.Length} characters; use at least 16 (or leave it out to generate one)");
        return new ManagementSettings
        {
            Enabled = Bool(f, "enabled", path) ?? true,
            Listen = f.TryGetValue("listen", out var l) ? Endpoint(l, $"{path}.listen", 0) : result.Listen,
            Token = token,
            StateFile = String(f, "stateFile", path) ?? result.StateFile,
        };
    }

    private NbdExportSettings BindExport(ConfigNode node, string path)
    {
        var f = AsMapping(node, path) is { } map ? Fields(map, path, "name", "target", "lun", "description", "readOnly") : [];
        return new NbdExportSettings
        {
            Name = Required(f, "name", path, node) ?? "",
            Target = String(f, "target", path) ?? "",
            Lun = Int(f, "lun", path) ?? 0,
            Description = String(f, "description", path),
            ReadOnly = Bool(f, "readOnly", path) ?? false,
        };
    }

    private TargetSettings BindTarget(ConfigNode node, string path)
    {
        var f = AsMapping(node, path) is { } map ? Fields(map, path, "iqn", "alias", "acl", "chap", "mutualChap") : [];
        return new TargetSettings
        {
            Iqn = Required(f, "iqn", path, node) ?? "",
            Alias = String(f, "alias", path),
            Acl = f.TryGetValue("acl", out var acl) ? List(acl, $"{path}.acl", (n, p) => ScalarText(n, p) ?? "") : [],
            Chap = f.TryGetValue("chap", out var chap) ? BindChap(chap, $"{path}.chap") : null,
            MutualChap = f.TryGetValue("mutualChap", out var mutual) ? BindChap(mutual, $"{path}.mutualChap") : null,
        };
    }

    private ChapCredentials? BindChap(ConfigNode node, string path)
    {
        if (node is ConfigScalar { Value: null }) return null;
        if (AsMapping(node, path) is not { } map) return null;
        var f = Fields(map, path, "user", "secret");
        return new ChapCredentials(Required(f, "user", path, node) ?? "", Required(f, "secret", path, node) ?? "");
    }

    internal LunSettings BindLun(ConfigNode node, string path)
    {
        var f = AsMapping(node, path) is { } map
            ? Fields(map, path, "target", "number", "device", "backend", "format", "size", "path", "create", "uri", "timeout", "reconnect", "blockSize", "thin", "readOnly", "removable", "productId", "serial", "faults")
            : [];
        var backend = LunBackend.Ram;
        if (f.TryGetValue("backend", out var b) && ScalarText(b, $"{path}.backend") is { } text)
        {
            switch (text.ToLowerInvariant())
            {
                case "ram": backend = LunBackend.Ram; break;
                case "file": backend = LunBackend.File; break;
                case "image": backend = LunBackend.Image; break;
                case "nbd": backend = LunBackend.Nbd; break;
                case "none": backend = LunBackend.None; break;
                default: Error(b, $"{path}.backend", $"'{text}' is not a backend; use ram, file, image or nbd (or none for an empty dvd drive)"); break;
            }
        }
        var device = LunDevice.Disk;
        if (f.TryGetValue("device", out var d) && ScalarText(d, $"{path}.device") is { } kind)
        {
            switch (kind.ToLowerInvariant())
            {
                case "disk": device = LunDevice.Disk; break;
                case "dvd": device = LunDevice.Dvd; break;
                case "nvme": device = LunDevice.Nvme; break;
                default: Error(d, $"{path}.device", $"'{kind}' is not a device kind; use disk, dvd or nvme"); break;
            }
        }
        var defaults = new LunSettings { Target = "" };
        return new LunSettings
        {
            Target = String(f, "target", path) ?? "",
            Number = Int(f, "number", path) ?? 0,
            Device = device,
            Backend = backend,
            Format = String(f, "format", path) ?? defaults.Format,
            SizeBytes = Size(f, "size", path),
            Path = String(f, "path", path),
            Create = Bool(f, "create", path) ?? false,
            Uri = String(f, "uri", path),
            Timeout = Duration(f, "timeout", path),
            Reconnect = f.TryGetValue("reconnect", out var r) ? BindReconnect(r, $"{path}.reconnect") : null,
            BlockSize = Int(f, "blockSize", path) ?? defaults.BlockSize,
            Thin = Bool(f, "thin", path) ?? defaults.Thin,
            ReadOnly = Bool(f, "readOnly", path) ?? device == LunDevice.Dvd,
            Removable = Bool(f, "removable", path) ?? device == LunDevice.Dvd,
            ProductId = String(f, "productId", path) ?? device switch { LunDevice.Dvd => "Virtual DVD-ROM", LunDevice.Nvme => "StorSharp NVMe", _ => defaults.ProductId },
            Serial = String(f, "serial", path),
            Faults = f.TryGetValue("faults", out var faults) ? BindFaults(faults, $"{path}.faults") : [],
        };
    }

    private NbdReconnectSettings? BindReconnect(ConfigNode node, string path)
    {
        if (AsMapping(node, path) is not { } map) return null;
        var f = Fields(map, path, "enabled", "delay", "maxDelay", "attempts", "maxTime", "wait");
        var defaults = new NbdReconnectSettings();
        return new NbdReconnectSettings
        {
            Enabled = Bool(f, "enabled", path) ?? defaults.Enabled,
            Delay = Duration(f, "delay", path) ?? defaults.Delay,
            MaxDelay = Duration(f, "maxDelay", path) ?? defaults.MaxDelay,
            Attempts = Int(f, "attempts", path) ?? defaults.Attempts,
            MaxTime = Duration(f, "maxTime", path) ?? defaults.MaxTime,
            Wait = Duration(f, "wait", path) ?? defaults.Wait,
        };
    }

    // ---- helpers -------------------------------------------------------------------------

    private void Error(ConfigNode node, string path, string message) =>
        _errors.Add(new ConfigurationError(source, node.Line, node.Column, path, message));

    private ConfigMapping? AsMapping(ConfigNode node, string path)
    {
        Locator.Record(path, source, node);
        if (node is ConfigMapping m) return m;
        Error(node, path, $"expected a mapping of fields here, found {node.Kind}");
        return null;
    }

    /// <summary>The fields of a mapping by name; unknown and repeated keys are errors.</summary>
    private Dictionary<string, ConfigNode> Fields(ConfigMapping map, string path, params string[] known)
    {
        var result = new Dictionary<string, ConfigNode>(StringComparer.Ordinal);
        foreach (var (key, value) in map.Entries)
        {
            var name = key.Value ?? "";
            var fieldPath = path.Length == 0 ? name : $"{path}.{name}";
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                var hint = Suggest(name, known);
                Error(key, fieldPath, $"unknown field '{name}'" + (hint is null ? $"; known fields here: {string.Join(", ", known)}" : $"; did you mean '{hint}'?"));
                continue;
            }
            if (!result.TryAdd(name, value))
            {
                Error(key, fieldPath, $"'{name}' is given twice");
                continue;
            }
            Locator.Record(fieldPath, source, value);
        }
        return result;
    }

    private static string? Suggest(string name, string[] known)
    {
        var exact = known.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
        if (exact is not null) return exact;
        var best = known.Select(k => (k, d: Distance(k.ToLowerInvariant(), name.ToLowerInvariant()))).MinBy(x => x.d);
        return best.d <= 2 ? best.k : null;
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    private IReadOnlyList<T> List<T>(ConfigNode node, string path, Func<ConfigNode, string, T> item)
    {
        Locator.Record(path, source, node);
        if (node is ConfigScalar { Value: null }) return [];
        if (node is not ConfigSequence seq)
        {
            Error(node, path, $"expected a list here, found {node.Kind}");
            return [];
        }
        var result = new List<T>(seq.Items.Count);
        for (var i = 0; i < seq.Items.Count; i++)
        {
            var itemPath = $"{path}[{i}]";
            Locator.Record(itemPath, source, seq.Items[i]);
            result.Add(item(seq.Items[i], itemPath));
        }
        return result;
    }

    private string? ScalarText(ConfigNode node, string path)
    {
        if (node is ConfigScalar s) return s.Value;
        Error(node, path, $"expected a single value here, found {node.Kind}");
        return null;
    }

    private string? String(Dictionary<string, ConfigNode> f, string name, string path) =>
        f.TryGetValue(name, out var node) ? ScalarText(node, Join(path, name)) : null;

    private string? Required(Dictionary<string, ConfigNode> f, string name, string path, ConfigNode parent)
    {
        if (f.TryGetValue(name, out var node))
        {
            var text = ScalarText(node, Join(path, name));
            if (string.IsNullOrWhiteSpace(text) && node is ConfigScalar) Error(node, Join(path, name), "must not be empty");
            return text;
        }
        if (parent is ConfigMapping) Error(parent, Join(path, name), "is required");
        return null;
    }

    private string? OptionalPath(ConfigNode node, string path)
    {
        var text = ScalarText(node, path);
        return text is null || IsOff(text) ? null : text;
    }

    private static bool IsOff(string? value) => value is null || value.Equals("off", StringComparison.OrdinalIgnoreCase) || value.Equals("none", StringComparison.OrdinalIgnoreCase);

    private int? Int(Dictionary<string, ConfigNode> f, string name, string path)
    {
        if (!f.TryGetValue(name, out var node) || ScalarText(node, Join(path, name)) is not { } text) return null;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)) return value;
        Error(node, Join(path, name), $"'{text}' is not a whole number");
        return null;
    }

    private bool? Bool(Dictionary<string, ConfigNode> f, string name, string path)
    {
        if (!f.TryGetValue(name, out var node) || ScalarText(node, Join(path, name)) is not { } text) return null;
        switch (text.ToLowerInvariant())
        {
            case "true" or "yes" or "on": return true;
            case "false" or "no" or "off": return false;
            default:
                Error(node, Join(path, name), $"'{text}' is not true or false");
                return null;
        }
    }

    private long? Size(Dictionary<string, ConfigNode> f, string name, string path)
    {
        if (!f.TryGetValue(name, out var node) || ScalarText(node, Join(path, name)) is not { } text) return null;
        if (SizeParser.TryParse(text, out var bytes, out var problem)) return bytes;
        Error(node, Join(path, name), problem);
        return null;
    }

    private TimeSpan? Duration(Dictionary<string, ConfigNode> f, string name, string path, bool offIsZero = false)
    {
        if (!f.TryGetValue(name, out var node) || ScalarText(node, Join(path, name)) is not { } text) return null;
        if (offIsZero ? DurationParser.TryParseOrOff(text, out var value, out var problem) : DurationParser.TryParse(text, out value, out problem)) return value;
        Error(node, Join(path, name), problem);
        return null;
    }

    private uint? Seconds(Dictionary<string, ConfigNode> f, string name, string path)
    {
        if (!f.TryGetValue(name, out var node) || ScalarText(node, Join(path, name)) is not { } text) return null;
        if (uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bare)) return bare;
        if (DurationParser.TryParse(text, out var value, out var problem))
        {
            if (value.Ticks % TimeSpan.TicksPerSecond == 0 && value.TotalSeconds <= uint.MaxValue) return (uint)value.TotalSeconds;
            problem = $"'{text}' is not a whole number of seconds";
        }
        Error(node, Join(path, name), problem);
        return null;
    }

    private IPEndPoint Endpoint(ConfigNode node, string path, int defaultPort)
    {
        var text = ScalarText(node, path);
        if (text is null)
        {
            Error(node, path, "an address is needed, for example 127.0.0.1:" + defaultPort);
            return new IPEndPoint(IPAddress.Loopback, defaultPort);
        }
        if (EndpointParser.TryParse(text, defaultPort, out var endpoint, out var problem)) return endpoint;
        Error(node, path, problem);
        return new IPEndPoint(IPAddress.Loopback, defaultPort);
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}
