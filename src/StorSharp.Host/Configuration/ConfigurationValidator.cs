using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using StorSharp.Images;

namespace StorSharp.Host.Configuration;

/// <summary>
/// Checks the meaning of a bound configuration: ranges, names, references between LUNs, targets
/// and exports, and backend files. Errors are placed with a <see cref="ConfigLocator"/>.
/// </summary>
internal static partial class ConfigurationValidator
{
    /// <summary>The most LUNs one target can hold: the port's LUN address is a byte and 0xFF is the wildcard.</summary>
    public const int MaxLunsPerTarget = 255;

    /// <summary>The highest LUN number (SAM flat space addressing: 14 bits).</summary>
    public const int MaxLunNumber = 16383;

    /// <summary>Fills in what can be inferred: a LUN or export that names no target uses the only target.</summary>
    public static StorSharpConfiguration Normalize(StorSharpConfiguration config)
    {
        if (config.Targets.Count != 1) return config;
        var only = config.Targets[0].Iqn;
        return config with
        {
            Luns = [.. config.Luns.Select(l => l.Target.Length == 0 ? l with { Target = only } : l)],
            Nbd = config.Nbd with { Exports = [.. config.Nbd.Exports.Select(e => e.Target.Length == 0 ? e with { Target = only } : e)] },
        };
    }

    public static List<ConfigurationError> Validate(StorSharpConfiguration config, ConfigLocator at)
    {
        var errors = new List<ConfigurationError>();
        void Check(bool ok, string path, string message)
        {
            if (!ok) errors.Add(at.Error(path, message));
        }

        // Port options: the ranges of PortOptions and PortTunables.Validate.
        var port = config.Port;
        Check(port.MaximumBuses is >= 1 and <= 255, "port.maximumBuses", $"{port.MaximumBuses} is out of range; use 1 to 255");
        Check(port.HeartbeatInterval > TimeSpan.Zero && port.HeartbeatInterval <= TimeSpan.FromSeconds(10), "port.heartbeatInterval", $"{Show(port.HeartbeatInterval)} is out of range; use more than 0 and at most 10s");
        var t = port.Tunables;
        const string tp = "port.tunables";
        Check(t.BusyPauseTime <= TimeSpan.FromMinutes(1), $"{tp}.busyPause", $"{Show(t.BusyPauseTime)} is out of range; use 0 to 60s");
        Check(t.BusyRetryCount is >= 0 and <= 1000, $"{tp}.busyRetryCount", $"{t.BusyRetryCount} is out of range; use 0 to 1000");
        Check(t.QueueFullWaitIoPercentage is >= 1 and <= 100, $"{tp}.queueFullWaitIoPercentage", $"{t.QueueFullWaitIoPercentage} is out of range; use 1 to 100");
        Check(t.LinkDownTimeout <= TimeSpan.FromSeconds(600), $"{tp}.linkDownTimeout", $"{Show(t.LinkDownTimeout)} is out of range; use 0 to 600s");
        Check(t.DefaultTimeoutSeconds is >= 1 and <= 255, $"{tp}.defaultTimeout", $"{t.DefaultTimeoutSeconds}s is out of range; use 1 to 255 seconds");
        Check(t.ResetTimeout > TimeSpan.Zero && t.ResetTimeout <= TimeSpan.FromMinutes(10), $"{tp}.resetTimeout", $"{Show(t.ResetTimeout)} is out of range; use more than 0 and at most 600s");
        Check(t.ClassRetryCount is >= 0 and <= 100, $"{tp}.classRetryCount", $"{t.ClassRetryCount} is out of range; use 0 to 100");
        Check(t.ClassRetryInterval <= TimeSpan.FromMinutes(1), $"{tp}.classRetryInterval", $"{Show(t.ClassRetryInterval)} is out of range; use 0 to 60s");

        Check(config.EventLog is null || config.EventLog.Trim().Length > 0, "eventLog", "must not be empty; leave it out or write off");

        // Front ends.
        if (config.Iscsi.Enabled)
        {
            Check(config.Iscsi.Portals.Count > 0, "iscsi.portals", "no portal is listed; add one (for example 127.0.0.1:3260) or set iscsi.enabled: false");
            for (var i = 0; i < config.Iscsi.Portals.Count; i++)
            {
                var p = config.Iscsi.Portals[i];
                for (var j = 0; j < i; j++)
                    Check(!Overlaps(p, config.Iscsi.Portals[j]), $"iscsi.portals[{i}]", $"{p} is also iscsi.portals[{j}] ({config.Iscsi.Portals[j]}); each portal needs its own address and port");
                if (config.Nbd.Enabled)
                    Check(!Overlaps(p, config.Nbd.Listen), "nbd.listen", $"{config.Nbd.Listen} is also iscsi.portals[{i}] ({p}); use another port for one of them");
            }
        }

        // Targets.
        Check(config.Targets.Count <= MaxLunsPerTarget, "targets", $"{config.Targets.Count} targets are listed; at most {MaxLunsPerTarget} are supported");
        var targetIndex = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < config.Targets.Count; i++)
        {
            var target = config.Targets[i];
            var path = $"targets[{i}]";
            if (target.Iqn.Length > 0)
            {
                if (IscsiNameProblem(target.Iqn) is { } problem) errors.Add(at.Error($"{path}.iqn", problem));
                if (!targetIndex.TryAdd(target.Iqn, i)) errors.Add(at.Error($"{path}.iqn", $"{target.Iqn} is already targets[{targetIndex[target.Iqn]}]; target names must be unique"));
            }
            Check(target.Alias is null || (target.Alias.Length <= 255 && IsPrintable(target.Alias)), $"{path}.alias", "must be at most 255 printable characters");
            for (var a = 0; a < target.Acl.Count; a++)
                if (IscsiNameProblem(target.Acl[a]) is { } problem) errors.Add(at.Error($"{path}.acl[{a}]", problem.Replace("a target name", "an initiator name", StringComparison.Ordinal)));
            ValidateChap(target.Chap, $"{path}.chap");
            ValidateChap(target.MutualChap, $"{path}.mutualChap");
            Check(target.MutualChap is null || target.Chap is not null, $"{path}.mutualChap", "mutual CHAP needs chap too: the initiator must authenticate first");
            if (target.Chap is { } c && target.MutualChap is { } m && c.Secret.Length > 0)
                Check(c.Secret != m.Secret, $"{path}.mutualChap.secret", "must differ from chap.secret (RFC 7143 §12.1.3: one secret must not serve both directions)");
        }

        void ValidateChap(ChapCredentials? chap, string path)
        {
            if (chap is null) return;
            Check(chap.User.Length <= 255, $"{path}.user", "must be at most 255 characters");
            if (chap.Secret.Length > 0)
                Check(chap.Secret.Length is >= 12 and <= 255, $"{path}.secret", $"is {chap.Secret.Length} characters; use 12 to 255 (RFC 7143 §12.1.3 asks for at least 12 bytes; Windows initiators need 12 to 16)");
        }

        // LUNs.
        Check(config.Luns.Count > 0, "luns", "no LUN is listed; a server needs at least one (see examples/storsharp.yaml)");
        var lunsByTarget = new Dictionary<string, Dictionary<int, int>>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < config.Luns.Count; i++)
        {
            var lun = config.Luns[i];
            var path = $"luns[{i}]";
            if (lun.Target.Length == 0)
                errors.Add(at.Error($"{path}.target", config.Targets.Count == 0
                    ? "no target is listed; add one under targets: and name it here"
                    : "is required when more than one target is listed; name the target's iqn"));
            else if (!targetIndex.ContainsKey(lun.Target))
                errors.Add(at.Error($"{path}.target", $"{lun.Target} is not one of the targets listed under targets:"));
            else
            {
                var numbers = lunsByTarget.TryGetValue(lun.Target, out var n) ? n : lunsByTarget[lun.Target] = [];
                if (numbers.TryGetValue(lun.Number, out var other))
                    errors.Add(at.Error($"{path}.number", $"LUN {lun.Number} of {lun.Target} is already luns[{other}]"));
                else numbers[lun.Number] = i;
                if (numbers.Count == MaxLunsPerTarget + 1)
                    errors.Add(at.Error(path, $"{lun.Target} has more than {MaxLunsPerTarget} LUNs"));
            }
            Check(lun.Number is >= 0 and <= MaxLunNumber, $"{path}.number", $"{lun.Number} is out of range; use 0 to {MaxLunNumber}");
            var blockOk = lun.BlockSize is 512 or 4096;
            Check(blockOk, $"{path}.blockSize", $"{lun.BlockSize} is not supported; use 512 or 4096");
            if (lun.Device == LunDevice.Dvd) ValidateDvd(lun, path);
            if (lun.Device == LunDevice.Nvme) ValidateNvme(lun, path);
            ValidateBackend(lun, path, blockOk);
            Check(lun.ProductId.Length is >= 1 and <= 16 && IsPrintableAscii(lun.ProductId), $"{path}.productId", $"'{lun.ProductId}' must be 1 to 16 printable ASCII characters (INQUIRY PRODUCT IDENTIFICATION)");
            Check(lun.Serial is null || (lun.Serial.Length is >= 1 and <= 64 && IsPrintableAscii(lun.Serial) && !lun.Serial.Contains(' ')), $"{path}.serial", $"'{lun.Serial}' must be 1 to 64 printable ASCII characters without spaces (VPD page 80)");
        }

        void ValidateBackend(LunSettings lun, string path, bool blockOk)
        {
            if (lun.SizeBytes is { } size)
            {
                Check(size > 0, $"{path}.size", "must be more than 0");
                if (size > 0 && blockOk)
                    Check(size % lun.BlockSize == 0, $"{path}.size", $"{size} bytes is not a whole number of {lun.BlockSize}-byte blocks");
            }
            if (lun.Backend != LunBackend.Nbd)
            {
                Check(lun.Uri is null, $"{path}.uri", "is only for backend: nbd");
                Check(lun.Timeout is null, $"{path}.timeout", "is only for backend: nbd");
                Check(lun.Reconnect is null, $"{path}.reconnect", "is only for backend: nbd");
            }
            if (lun.Backend == LunBackend.Nbd)
            {
                ValidateNbd(lun, path);
                return;
            }
            if (lun.Backend == LunBackend.None)
            {
                ValidateEmptyDrive(lun, path);
                return;
            }
            if (lun.Backend == LunBackend.Ram)
            {
                Check(lun.SizeBytes is not null, $"{path}.size", "is required for a ram backend (for example 1G)");
                Check(lun.Path is null, $"{path}.path", "is only for backend: file");
                Check(!lun.Create, $"{path}.create", "is only for backend: file");
                Check(lun.Format == "auto", $"{path}.format", "is only for backend: image");
                return;
            }
            var kind = lun.Backend == LunBackend.Image ? "an image" : "a file";
            if (string.IsNullOrWhiteSpace(lun.Path))
            {
                errors.Add(at.Error($"{path}.path", $"is required for {kind} backend"));
                return;
            }
            if (lun.Backend == LunBackend.Image)
            {
                ValidateImage(lun, path);
                return;
            }
            Check(lun.Format == "auto", $"{path}.format", "is only for backend: image (a file backend is raw)");
            var full = Path.GetFullPath(lun.Path);
            if (Directory.Exists(full))
            {
                errors.Add(at.Error($"{path}.path", $"{lun.Path} is a directory; name a file"));
                return;
            }
            if (!File.Exists(full))
            {
                if (!lun.Create) errors.Add(at.Error($"{path}.path", $"{lun.Path} does not exist; set create: true and a size to create it"));
                else if (lun.SizeBytes is null) errors.Add(at.Error($"{path}.size", $"is required to create {lun.Path}"));
                else if (lun.ReadOnly) errors.Add(at.Error($"{path}.readOnly", $"{lun.Path} does not exist and a read-only LUN cannot create it"));
                else if (Path.GetDirectoryName(full) is { } dir && !Directory.Exists(dir)) errors.Add(at.Error($"{path}.path", $"the folder {dir} does not exist"));
                return;
            }
            var length = new FileInfo(full).Length;
            if (lun.SizeBytes is { } wanted && wanted != length)
                errors.Add(at.Error($"{path}.size", $"{wanted} bytes differs from the size of {lun.Path} ({length} bytes); leave size out to use the file's size"));
            else if (length == 0)
                errors.Add(at.Error($"{path}.path", $"{lun.Path} is empty; give a size to a new file with create: true, or use a file with data"));
            else if (blockOk && length % lun.BlockSize != 0)
                errors.Add(at.Error($"{path}.path", $"{lun.Path} is {length} bytes, not a whole number of {lun.BlockSize}-byte blocks"));
        }

        void ValidateNbd(LunSettings lun, string path)
        {
            Check(lun.SizeBytes is null, $"{path}.size", "is only for ram and file backends; an NBD export has its own size");
            Check(lun.Path is null, $"{path}.path", "is only for file and image backends; an nbd backend takes a uri");
            Check(!lun.Create, $"{path}.create", "is only for backend: file");
            Check(lun.Format == "auto", $"{path}.format", "is only for backend: image");
            if (string.IsNullOrWhiteSpace(lun.Uri))
                errors.Add(at.Error($"{path}.uri", "is required for an nbd backend (nbd://host:port/export or nbd+unix:///export?socket=PATH)"));
            else if (!StorSharp.Nbd.Client.NbdServerAddress.TryParse(lun.Uri, out _, out var problem))
                errors.Add(at.Error($"{path}.uri", problem!));
            if (lun.Timeout is { } timeout)
                Check(timeout > TimeSpan.Zero, $"{path}.timeout", "must be more than 0");
            if (lun.Reconnect is { } r)
            {
                Check(r.Attempts >= 0, $"{path}.reconnect.attempts", $"{r.Attempts} is negative; use 0 for no limit");
                Check(r.MaxDelay >= r.Delay, $"{path}.reconnect.maxDelay", $"must be at least reconnect.delay ({r.Delay.TotalMilliseconds} ms)");
                Check(r.MaxTime > TimeSpan.Zero, $"{path}.reconnect.maxTime", "must be more than 0");
            }
        }

        // A DVD's disc is an ISO image (2048-byte sectors), read-only, removable.
        void ValidateDvd(LunSettings lun, string path)
        {
            Check(lun.Backend is LunBackend.File or LunBackend.Image or LunBackend.None, $"{path}.backend", "a dvd's disc is an ISO image: use backend: file or image and its path, or backend: none for an empty drive");
            Check(lun.ReadOnly, $"{path}.readOnly", "a dvd is read-only; leave readOnly out");
            Check(lun.Removable, $"{path}.removable", "a dvd's disc is removable; leave removable out");
            Check(!lun.Create, $"{path}.create", "a dvd serves an existing ISO image; make one with xorriso -as mkisofs");
            Check(lun.BlockSize == 512, $"{path}.blockSize", "a dvd reads its image in 2048-byte sectors; leave blockSize out (512)");
            if (lun.Backend is LunBackend.File or LunBackend.Image && lun.Path is { } file && File.Exists(file))
            {
                // A file backend is the ISO itself: whole 2048-byte sectors. An image's file size says nothing of its contents.
                var problem = lun.Backend == LunBackend.File ? DiscImageFile.Problem(file, lun.Path) : new FileInfo(file).Length < DiscImageFile.SectorSize ? $"{lun.Path} is smaller than one 2048-byte sector" : null;
                if (problem is not null) errors.Add(at.Error($"{path}.path", problem));
            }
        }

        // backend: none, an empty dvd drive: no disc, so nothing that describes one.
        void ValidateEmptyDrive(LunSettings lun, string path)
        {
            if (lun.Device != LunDevice.Dvd)
            {
                errors.Add(at.Error($"{path}.backend", "none is only for device: dvd (an empty drive); a disk needs a backend that stores its blocks"));
                return;
            }
            const string Hint = "an empty drive (backend: none) has no disc; leave it out, or use backend: file with the ISO's path";
            Check(lun.Path is null, $"{path}.path", Hint);
            Check(lun.SizeBytes is null, $"{path}.size", Hint);
            Check(lun.Format == "auto", $"{path}.format", Hint);
        }

        // An NVMe namespace is a fixed disk: no removable medium, and NVMe reports no vendor of its own (INQUIRY says NVMe).
        void ValidateNvme(LunSettings lun, string path)
        {
            Check(!lun.Removable, $"{path}.removable", "an nvme namespace is not removable; leave removable out (or use device: disk)");
        }

        void ValidateImage(LunSettings lun, string path)
        {
            Check(!lun.Create, $"{path}.create", "is only for backend: file; make images with qemu-img create");
            Check(lun.SizeBytes is null, $"{path}.size", "is only for ram and file backends; an image has its own virtual size");
            if (!DiskImage.FormatNames.Contains(lun.Format))
                errors.Add(at.Error($"{path}.format", $"'{lun.Format}' is not an image format; use {string.Join(", ", DiskImage.FormatNames)}"));
            var full = Path.GetFullPath(lun.Path!);
            if (Directory.Exists(full)) errors.Add(at.Error($"{path}.path", $"{lun.Path} is a directory; name an image file"));
            else if (!File.Exists(full)) errors.Add(at.Error($"{path}.path", $"{lun.Path} does not exist"));
        }

        // NBD exports.
        Check(config.Nbd.ReceivePoll <= StorSharp.Transport.ReceivePolling.MaximumWindow, "nbd.receivePoll",
            $"{Show(config.Nbd.ReceivePoll)} is too long: a poll burns a core for that long; use at most 10ms, or off");
        if (config.Nbd.Enabled)
            Check(config.Nbd.Exports.Count > 0, "nbd.exports", "NBD is enabled but no export is listed; add one (name, target, lun) or set nbd.enabled: false");
        var exportNames = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < config.Nbd.Exports.Count; i++)
        {
            var export = config.Nbd.Exports[i];
            var path = $"nbd.exports[{i}]";
            if (export.Name.Length > 0)
            {
                Check(Encoding.UTF8.GetByteCount(export.Name) <= 4096, $"{path}.name", "must be at most 4096 bytes (NBD limit)");
                if (!exportNames.TryAdd(export.Name, i)) errors.Add(at.Error($"{path}.name", $"'{export.Name}' is already nbd.exports[{exportNames[export.Name]}]; export names must be unique"));
            }
            Check(export.Description is null || Encoding.UTF8.GetByteCount(export.Description) <= 4096, $"{path}.description", "must be at most 4096 bytes (NBD limit)");
            if (export.Target.Length == 0)
                errors.Add(at.Error($"{path}.target", "is required when more than one target is listed; name the target's iqn"));
            else if (!targetIndex.ContainsKey(export.Target))
                errors.Add(at.Error($"{path}.target", $"{export.Target} is not one of the targets listed under targets:"));
            else if (!lunsByTarget.TryGetValue(export.Target, out var numbers) || !numbers.ContainsKey(export.Lun))
                errors.Add(at.Error($"{path}.lun", $"{export.Target} has no LUN {export.Lun}"));
        }
        return errors;
    }

    /// <summary>Why <paramref name="name"/> is not a valid iSCSI name (RFC 7143 §4.2.7), or null when it is.</summary>
    public static string? IscsiNameProblem(string name)
    {
        if (name.Length > 223) return $"'{name}' is longer than 223 bytes, the limit of iSCSI names (RFC 7143 §4.2.7)";
        if (IqnRegex().IsMatch(name) || EuiRegex().IsMatch(name) || NaaRegex().IsMatch(name)) return null;
        return $"'{name}' is not a target name; use iqn.YYYY-MM.reversed.domain[:identifier] (for example {StorSharpConfiguration.DefaultTargetIqn}), eui.<16 hex digits> or naa.<16 or 32 hex digits>";
    }

    [GeneratedRegex(@"^iqn\.\d{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[a-z0-9.:\-]+)?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex IqnRegex();

    [GeneratedRegex(@"^eui\.[0-9a-f]{16}$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex EuiRegex();

    [GeneratedRegex(@"^naa\.([0-9a-f]{16}|[0-9a-f]{32})$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NaaRegex();

    private static bool Overlaps(IPEndPoint a, IPEndPoint b)
    {
        if (a.Port != b.Port || a.Port == 0) return false;
        if (a.Address.Equals(b.Address)) return true;
        static bool Wild(IPAddress x) => x.Equals(IPAddress.Any) || x.Equals(IPAddress.IPv6Any);
        return Wild(a.Address) || Wild(b.Address);
    }

    private static bool IsPrintable(string s) => s.All(c => !char.IsControl(c));

    private static bool IsPrintableAscii(string s) => s.All(c => c is >= ' ' and <= '~');

    private static string Show(TimeSpan t) => t.TotalMilliseconds < 1000 ? $"{t.TotalMilliseconds:0.###}ms" : $"{t.TotalSeconds:0.###}s";
}
