using System.Net;
using System.Security.Cryptography;
using System.Text;
using StorSharp.Port;

namespace StorSharp.Host.Configuration;

/// <summary>
/// Everything <c>storsharp serve</c> runs: the port's options, the event log, the iSCSI portals
/// and targets, the LUNs and their backends, and the NBD exports. Read one from a file with
/// <see cref="ConfigurationLoader"/>; <see cref="CreateDefault"/> is the disk served when no file is given.
/// </summary>
public sealed record StorSharpConfiguration
{
    /// <summary>The target name of the default disk.</summary>
    public const string DefaultTargetIqn = "iqn.2026-11.io.storsharp:disk0";

    /// <summary>The NBD export name of the default disk.</summary>
    public const string DefaultExportName = "disk0";

    /// <summary>The iSCSI port IANA assigned (RFC 7143 §13.1).</summary>
    public const int DefaultIscsiPort = 3260;

    /// <summary>The NBD port IANA assigned.</summary>
    public const int DefaultNbdPort = 10809;

    /// <summary>Where the configuration came from: a file name, or <c>defaults</c>.</summary>
    public string SourceName { get; init; } = "defaults";

    /// <summary>The port engine's options.</summary>
    public PortSettings Port { get; init; } = new();

    /// <summary>The JSON-lines file events are appended to; null keeps events in memory only.</summary>
    public string? EventLog { get; init; } = DefaultEventLogPath();

    /// <summary>The iSCSI front end.</summary>
    public IscsiSettings Iscsi { get; init; } = new();

    /// <summary>The NBD front end.</summary>
    public NbdSettings Nbd { get; init; } = new();

    /// <summary>The management channel (the HTTP API <c>storsharp luns</c>, <c>fault</c>, <c>events --follow</c>... use).</summary>
    public ManagementSettings Management { get; init; } = new();

    /// <summary>The iSCSI targets. Each target is one SCSI target id on the adapter.</summary>
    public IReadOnlyList<TargetSettings> Targets { get; init; } = [];

    /// <summary>The logical units, each behind one target.</summary>
    public IReadOnlyList<LunSettings> Luns { get; init; } = [];

    /// <summary>
    /// The disk served when no configuration file is given: a 1 GiB sparse RAM disk with 512-byte
    /// blocks, as LUN 0 of <see cref="DefaultTargetIqn"/> on 127.0.0.1:3260 and as NBD export
    /// <see cref="DefaultExportName"/> on 127.0.0.1:10809.
    /// </summary>
    public static StorSharpConfiguration CreateDefault() => new()
    {
        Targets = [new TargetSettings { Iqn = DefaultTargetIqn, Alias = "StorSharp disk0" }],
        Luns = [new LunSettings { Target = DefaultTargetIqn, Number = 0, Backend = LunBackend.Ram, SizeBytes = 1L << 30 }],
        Nbd = new NbdSettings { Exports = [new NbdExportSettings { Name = DefaultExportName, Target = DefaultTargetIqn, Lun = 0, Description = "StorSharp default disk" }] },
    };

    /// <summary>
    /// The event log used when none is configured: <c>$XDG_STATE_HOME/storsharp/events.jsonl</c>,
    /// else <c>~/.local/state/storsharp/events.jsonl</c>.
    /// </summary>
    public static string DefaultEventLogPath()
    {
        var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (string.IsNullOrEmpty(state))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (string.IsNullOrEmpty(home)) home = Path.GetTempPath();
            state = Path.Combine(home, ".local", "state");
        }
        return Path.Combine(state, "storsharp", "events.jsonl");
    }
}

/// <summary>The port engine's options (<see cref="PortOptions"/>).</summary>
public sealed record PortSettings
{
    /// <summary>The most buses an adapter may have (1 to 255; Storport's default is 8).</summary>
    public int MaximumBuses { get; init; } = 8;

    /// <summary>The period of the port's heartbeat, which drives every timer.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Busy pause, retry counts, link-down timeout, default timeout and the rest.</summary>
    public PortTunables Tunables { get; init; } = new();
}

/// <summary>The iSCSI front end.</summary>
public sealed record IscsiSettings
{
    /// <summary>False serves no iSCSI.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The addresses to listen on (network portals).</summary>
    public IReadOnlyList<IPEndPoint> Portals { get; init; } = [new IPEndPoint(IPAddress.Loopback, StorSharpConfiguration.DefaultIscsiPort)];
}

/// <summary>The NBD front end.</summary>
public sealed record NbdSettings
{
    /// <summary>False serves no NBD.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The address to listen on.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, StorSharpConfiguration.DefaultNbdPort);

    /// <summary>
    /// How long a busy connection from a client in lock step (queue depth 1) polls its socket for
    /// the next request before it sleeps (<c>receivePoll</c>, 50us by default, <c>off</c> or 0us to
    /// turn it off, at most 10ms; docs/nbd.md, "Receive polling").
    /// </summary>
    public TimeSpan ReceivePoll { get; init; } = StorSharp.Transport.ReceivePolling.DefaultWindow;

    /// <summary>The exports: each names one LUN.</summary>
    public IReadOnlyList<NbdExportSettings> Exports { get; init; } = [];
}

/// <summary>An NBD export: a name that clients ask for, and the LUN it serves.</summary>
public sealed record NbdExportSettings
{
    /// <summary>The export name clients ask for (<c>nbd://host:port/NAME</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The IQN of the target the LUN is behind.</summary>
    public required string Target { get; init; }

    /// <summary>The LUN number behind that target.</summary>
    public int Lun { get; init; }

    /// <summary>Text shown by <c>nbdinfo</c>; none when null.</summary>
    public string? Description { get; init; }

    /// <summary>Serve the export read-only even if the LUN is writable.</summary>
    public bool ReadOnly { get; init; }
}

/// <summary>An iSCSI target: its name, who may log in, and how they authenticate.</summary>
public sealed record TargetSettings
{
    /// <summary>The target's iSCSI name (<c>iqn.</c>, <c>eui.</c> or <c>naa.</c>; RFC 7143 §4.2.7).</summary>
    public required string Iqn { get; init; }

    /// <summary>The TargetAlias sent at login; none when null.</summary>
    public string? Alias { get; init; }

    /// <summary>Initiator names allowed to log in; empty allows every initiator.</summary>
    public IReadOnlyList<string> Acl { get; init; } = [];

    /// <summary>CHAP the initiator must pass; none when null.</summary>
    public ChapCredentials? Chap { get; init; }

    /// <summary>CHAP the target answers so the initiator can check it (mutual CHAP); needs <see cref="Chap"/>.</summary>
    public ChapCredentials? MutualChap { get; init; }
}

/// <summary>A CHAP name and secret. <see cref="ToString"/> hides the secret.</summary>
/// <param name="User">The CHAP name.</param>
/// <param name="Secret">The shared secret (at least 12 characters; RFC 7143 §12.1.3).</param>
public sealed record ChapCredentials(string User, string Secret)
{
    /// <summary>The user name only; the secret is never printed.</summary>
    public override string ToString() => $"ChapCredentials {{ User = {User}, Secret = *** }}";
}

/// <summary>What stores a LUN's blocks.</summary>
public enum LunBackend
{
    /// <summary>Memory, allocated as written (sparse).</summary>
    Ram,
    /// <summary>A file on the host's file system, served byte for byte.</summary>
    File,
    /// <summary>A disk image file (raw, qcow2, VHD, VHDX, VMDK), its format recognised or named by <see cref="LunSettings.Format"/>.</summary>
    Image,
    /// <summary>A remote NBD export (<see cref="LunSettings.Uri"/>), reached through StorSharp's own NBD client.</summary>
    Nbd,
    /// <summary>Nothing: an empty CD/DVD drive (<see cref="LunDevice.Dvd"/> only), whose disc is inserted later through the management API.</summary>
    None,
}

/// <summary>How an <see cref="LunBackend.Nbd"/> backend gets its connection back (the <c>reconnect:</c> mapping).</summary>
public sealed record NbdReconnectSettings
{
    /// <summary>Reconnect at all; off: a lost connection fails every request with NOT READY.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The wait before the second attempt; each wait doubles up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between attempts.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Attempts in one reconnect cycle before giving up; 0: no limit but <see cref="MaxTime"/>.</summary>
    public int Attempts { get; init; }

    /// <summary>How long one reconnect cycle may last.</summary>
    public TimeSpan MaxTime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a request waits for a connection before it fails with NOT READY.</summary>
    public TimeSpan Wait { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>The kind of device a LUN presents, and so the miniport (and adapter) that serves it.</summary>
public enum LunDevice
{
    /// <summary>A SCSI direct-access disk (SPC-4 / SBC-4), served by the SCSI disk miniport.</summary>
    Disk,
    /// <summary>A read-only CD/DVD drive (MMC-6) whose disc is the backend's ISO image (none with <see cref="LunBackend.None"/>), served by the optical miniport.</summary>
    Dvd,
    /// <summary>An NVMe namespace behind a virtual NVMe controller (PRP lists, the SCSI-to-NVMe translation), served by the NVMe miniport; hosts see a disk.</summary>
    Nvme,
}

/// <summary>A logical unit: its address, its backend and what it reports (INQUIRY, VPD).</summary>
public sealed record LunSettings
{
    /// <summary>The IQN of the target the LUN is behind.</summary>
    public required string Target { get; init; }

    /// <summary>The LUN number initiators see (0 to 16383, SAM flat addressing).</summary>
    public int Number { get; init; }

    /// <summary>The backend.</summary>
    public LunBackend Backend { get; init; } = LunBackend.Ram;

    /// <summary>The kind of device the LUN presents (the miniport that serves it).</summary>
    public LunDevice Device { get; init; } = LunDevice.Disk;

    /// <summary>The image format of an <see cref="LunBackend.Image"/> backend: <c>auto</c> (recognised from the file) or a format name.</summary>
    public string Format { get; init; } = "auto";

    /// <summary>The size in bytes; null for a file backend that takes the size of an existing file.</summary>
    public long? SizeBytes { get; init; }

    /// <summary>The file of a file or image backend.</summary>
    public string? Path { get; init; }

    /// <summary>The export of an <see cref="LunBackend.Nbd"/> backend: <c>nbd://host[:port]/export</c> or <c>nbd+unix:///export?socket=PATH</c>.</summary>
    public string? Uri { get; init; }

    /// <summary>How long an <see cref="LunBackend.Nbd"/> request may wait for the remote server's reply (default 30 s).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>How an <see cref="LunBackend.Nbd"/> backend reconnects; defaults when null.</summary>
    public NbdReconnectSettings? Reconnect { get; init; }

    /// <summary>Create the file (with <see cref="SizeBytes"/>) when it does not exist.</summary>
    public bool Create { get; init; }

    /// <summary>Bytes per logical block: 512 or 4096.</summary>
    public int BlockSize { get; init; } = 512;

    /// <summary>Thin provisioned: space is allocated as written, and UNMAP / TRIM free it.</summary>
    public bool Thin { get; init; } = true;

    /// <summary>Refuse writes (write-protected).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Report removable media (INQUIRY RMB).</summary>
    public bool Removable { get; init; }

    /// <summary>The INQUIRY product identification (at most 16 ASCII characters).</summary>
    public string ProductId { get; init; } = "StorSharp Disk";

    /// <summary>The unit serial number (VPD page 80); derived from the target and LUN when null.</summary>
    public string? Serial { get; init; }

    /// <summary>The fault-injection rules the LUN starts with (<c>luns[].faults</c>); empty for none. See docs/faults.md.</summary>
    public IReadOnlyList<StorSharp.Port.FaultRule> Faults { get; init; } = [];

    /// <summary>The serial reported: <see cref="Serial"/>, or a stable one made from the target and LUN number.</summary>
    public string EffectiveSerial => Serial ?? MakeSerial(Target, Number);

    private static string MakeSerial(string target, int number)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{target}/{number}"));
        return "SS" + Convert.ToHexString(hash, 0, 7);
    }
}

/// <summary>
/// The management channel (Storport's ProcessServiceRequest role): an HTTP API on loopback that
/// lists and changes the running server. Every request must carry the token.
/// </summary>
public sealed record ManagementSettings
{
    /// <summary>Serve the management API.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Where the API listens; port 0 (the default) takes any free port, written to <see cref="StateFile"/>.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>The token clients must send; null generates a random one at every start.</summary>
    public string? Token { get; init; }

    /// <summary>
    /// The file the API's URL and token are written to (mode 0600) at start, where the CLI finds
    /// them: <c>$XDG_STATE_HOME/storsharp/management.json</c>, else <c>~/.local/state/storsharp/management.json</c>.
    /// </summary>
    public string StateFile { get; init; } = DefaultStateFile();

    /// <summary>The default <see cref="StateFile"/>, next to the default event log.</summary>
    public static string DefaultStateFile() =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(StorSharpConfiguration.DefaultEventLogPath())!, "management.json");
}
