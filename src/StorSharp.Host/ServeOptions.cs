using StorSharp.Host.Configuration;

namespace StorSharp.Host;

/// <summary>
/// What <c>storsharp serve</c> was asked for on the command line, as typed. The host, not the
/// CLI, turns these into a <see cref="StorSharpConfiguration"/> so there is one place that
/// validates them (<see cref="Resolve"/>).
/// </summary>
public sealed record ServeOptions
{
    /// <summary><c>--config FILE</c>: a YAML or JSON configuration; the default disk when null.</summary>
    public string? ConfigPath { get; init; }

    /// <summary><c>--iscsi ADDR:PORT|off</c>: replaces the iSCSI portals, or turns iSCSI off.</summary>
    public string? Iscsi { get; init; }

    /// <summary><c>--nbd ADDR:PORT|off</c>: replaces the NBD address, or turns NBD off.</summary>
    public string? Nbd { get; init; }

    /// <summary><c>--receive-poll DURATION|off</c>: how long a busy connection from a client in lock step polls for its next request before it sleeps (default 50us).</summary>
    public string? ReceivePoll { get; init; }

    /// <summary><c>--size SIZE</c>: the default disk's size (for example 1G).</summary>
    public string? Size { get; init; }

    /// <summary><c>--block-size 512|4096</c>: the default disk's logical block size.</summary>
    public int? BlockSize { get; init; }

    /// <summary><c>--file PATH</c>: back the default disk with a file (created sparse when missing).</summary>
    public string? File { get; init; }

    /// <summary><c>--read-only</c>: serve the default disk write-protected.</summary>
    public bool ReadOnly { get; init; }

    /// <summary><c>--event-log FILE|off</c>: where events are appended.</summary>
    public string? EventLog { get; init; }

    /// <summary><c>--management ADDR:PORT|off</c>: where the management API listens, or off.</summary>
    public string? Management { get; init; }

    /// <summary><c>--nbd-stdio</c>: serve one NBD connection on standard input and output, then exit.</summary>
    public bool NbdStdio { get; init; }

    /// <summary><c>--trace FILE</c>: record a binary trace of every request and port event into FILE (see <c>storsharp trace report</c>).</summary>
    public string? Trace { get; init; }

    /// <summary><c>--trace-max-size SIZE</c>: the most bytes the trace file may hold (default 512M); past it requests are dropped and counted.</summary>
    public string? TraceMaxSize { get; init; }

    /// <summary>
    /// Set when the process was started by systemd socket activation (or <c>nbdinfo -- [ storsharp serve ]</c>,
    /// which activates the same way): NBD serves the passed socket, and iSCSI is off unless
    /// <see cref="Iscsi"/> names a portal.
    /// </summary>
    public bool SocketActivated { get; init; }

    /// <summary>
    /// Builds the configuration: the file's (or the default disk's), with the command line's
    /// overrides applied, validated.
    /// </summary>
    /// <exception cref="ConfigurationException">An option or the file is not valid; errors name the option or the line.</exception>
    public StorSharpConfiguration Resolve()
    {
        var errors = new List<ConfigurationError>();
        void Fail(string option, string message) => errors.Add(new ConfigurationError("command line", 0, 0, option, message));

        StorSharpConfiguration config;
        ConfigLocator locator;
        if (ConfigPath is not null)
        {
            config = ConfigurationLoader.Load(ConfigPath, out locator); // throws with the file's errors
            foreach (var (option, given) in new[] { ("--size", Size is not null), ("--block-size", BlockSize is not null), ("--file", File is not null), ("--read-only", ReadOnly) })
                if (given) Fail(option, "shapes the default disk and cannot be combined with --config; set it on the LUN in the file");
        }
        else
        {
            config = StorSharpConfiguration.CreateDefault();
            locator = new ConfigLocator("command line");
            var lun = config.Luns[0];
            if (Size is not null)
            {
                if (SizeParser.TryParse(Size, out var bytes, out var problem)) lun = lun with { SizeBytes = bytes };
                else Fail("--size", problem);
                locator.RecordOption("luns[0].size", "--size");
            }
            if (BlockSize is { } blockSize)
            {
                lun = lun with { BlockSize = blockSize };
                locator.RecordOption("luns[0].blockSize", "--block-size");
            }
            if (File is not null)
            {
                var exists = System.IO.File.Exists(File);
                // An existing file keeps its size unless --size is given; a new one is created sparse (1 GiB unless --size).
                lun = lun with { Backend = LunBackend.File, Path = File, Create = true, SizeBytes = exists && Size is null ? null : lun.SizeBytes };
                locator.RecordOption("luns[0].path", "--file");
                locator.RecordOption("luns[0].create", "--file");
                if (Size is null) locator.RecordOption("luns[0].size", "--file");
            }
            if (ReadOnly)
            {
                lun = lun with { ReadOnly = true };
                locator.RecordOption("luns[0].readOnly", "--read-only");
            }
            config = config with { Luns = [lun] };
        }

        if (Iscsi is not null)
        {
            if (IsOff(Iscsi)) config = config with { Iscsi = config.Iscsi with { Enabled = false } };
            else if (EndpointParser.TryParse(Iscsi, StorSharpConfiguration.DefaultIscsiPort, out var ep, out var problem)) config = config with { Iscsi = new IscsiSettings { Enabled = true, Portals = [ep] } };
            else Fail("--iscsi", problem + "; or off");
            locator.RecordOption("iscsi.portals", "--iscsi");
            locator.RecordOption("iscsi.portals[0]", "--iscsi");
        }
        if (Nbd is not null)
        {
            if (IsOff(Nbd)) config = config with { Nbd = config.Nbd with { Enabled = false } };
            else if (EndpointParser.TryParse(Nbd, StorSharpConfiguration.DefaultNbdPort, out var ep, out var problem)) config = config with { Nbd = config.Nbd with { Enabled = true, Listen = ep } };
            else Fail("--nbd", problem + "; or off");
            locator.RecordOption("nbd.listen", "--nbd");
        }
        if (ReceivePoll is not null)
        {
            if (DurationParser.TryParseOrOff(ReceivePoll, out var window, out var problem)) config = config with { Nbd = config.Nbd with { ReceivePoll = window } };
            else Fail("--receive-poll", problem + "; or off");
            locator.RecordOption("nbd.receivePoll", "--receive-poll");
        }
        if (EventLog is not null)
        {
            config = config with { EventLog = IsOff(EventLog) ? null : EventLog };
            locator.RecordOption("eventLog", "--event-log");
        }
        if (Management is not null)
        {
            if (IsOff(Management)) config = config with { Management = config.Management with { Enabled = false } };
            else if (EndpointParser.TryParse(Management, 0, out var ep, out var problem)) config = config with { Management = config.Management with { Enabled = true, Listen = ep } };
            else Fail("--management", problem + "; or off");
            locator.RecordOption("management.listen", "--management");
        }
        if (SocketActivated && !NbdStdio)
        {
            // The activator owns the listening socket; listening on the default portal too would surprise it.
            if (Iscsi is null) config = config with { Iscsi = config.Iscsi with { Enabled = false } };
            config = config with { Nbd = config.Nbd with { Enabled = true } };
        }
        if (NbdStdio)
        {
            // One connection on stdin/stdout: no listeners at all.
            config = config with { Iscsi = config.Iscsi with { Enabled = false }, Nbd = config.Nbd with { Enabled = false }, Management = config.Management with { Enabled = false } };
        }
        else if (!config.Iscsi.Enabled && !config.Nbd.Enabled)
        {
            Fail("--iscsi", "iSCSI and NBD are both off: there is nothing to serve");
        }

        // The file was validated by Load; what fails now comes from the options (or how they meet the file).
        if (errors.Count == 0) errors.AddRange(ConfigurationValidator.Validate(config, locator));
        if (errors.Count > 0) throw new ConfigurationException(ConfigurationLoader.Sorted(errors));
        return config;
    }

    private static bool IsOff(string value) => value.Equals("off", StringComparison.OrdinalIgnoreCase) || value.Equals("none", StringComparison.OrdinalIgnoreCase);
}
