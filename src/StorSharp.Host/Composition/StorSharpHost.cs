using System.Net;
using System.Net.Sockets;
using StorSharp.Block;
using StorSharp.Diagnostics;
using StorSharp.Host.Configuration;
using StorSharp.Images;
using StorSharp.Port;

namespace StorSharp.Host;

/// <summary>
/// A running StorSharp server: the port, one adapter per device kind in use (the SCSI disk miniport
/// serves every disk LUN), the block devices behind them, and the iSCSI and NBD front ends.
/// </summary>
/// <remarks>
/// Addressing: every LU is on bus 0 of its kind's adapter; an iSCSI target is SCSI target id <c>i</c> (its index in
/// <see cref="StorSharpConfiguration.Targets"/>), and an LU's address LUN is its index within the
/// target. The LUN number initiators see (<see cref="LunSettings.Number"/>, up to 16383) is the
/// front end's business, so numbers above 255 work.
/// Disposing stops in the reverse order of starting: listeners and sessions, then the adapter
/// (drain, flush, StopAdapter), then the block devices (flush, close), then the event log.
/// </remarks>
public sealed partial class StorSharpHost : IAsyncDisposable
{
    private readonly List<IBlockDevice> _devices = [];
    private readonly List<DvdMedia> _media = [];
    private readonly List<IFrontEnd> _frontEnds = [];
    private readonly EventLog _events;
    private int _disposed;

    private StorSharpHost(StorSharpConfiguration configuration, StoragePort port, EventLog events)
    {
        Configuration = configuration;
        Port = port;
        _events = events;
        Diagnostics = new StorSharpDiagnostics(port);
    }

    /// <summary>The configuration the host runs.</summary>
    public StorSharpConfiguration Configuration { get; }

    /// <summary>The port engine.</summary>
    public StoragePort Port { get; }

    /// <summary>The adapters, one per device kind in use, in the order of the kind's first LUN in the configuration.</summary>
    public IReadOnlyList<Adapter> Adapters { get; private set; } = [];

    /// <summary>The LUs, in configuration order.</summary>
    public IReadOnlyList<ComposedLun> Luns { get; private set; } = [];

    /// <summary>The port's metrics, Prometheus writer and live snapshots, served by the management API
    /// (<c>/metrics</c>, <c>/api/perf</c>, <c>/api/live</c>, <c>/dashboard</c>; see docs/diagnostics.md).</summary>
    public StorSharpDiagnostics Diagnostics { get; }

    /// <summary>The management API, when enabled (<see cref="ManagementSettings"/>).</summary>
    public Management.ManagementServer? Management { get; private set; }

    /// <summary>The iSCSI front end, when enabled.</summary>
    public IFrontEnd? Iscsi { get; private set; }

    /// <summary>The NBD front end, when enabled or serving a stream.</summary>
    public INbdFrontEnd? Nbd { get; private set; }

    /// <summary>The addresses the iSCSI target listens on; empty when iSCSI is off.</summary>
    public IReadOnlyList<IPEndPoint> IscsiEndpoints => Iscsi?.LocalEndpoints ?? [];

    /// <summary>The address the NBD server listens on; null when NBD is off.</summary>
    public IPEndPoint? NbdEndpoint => Configuration.Nbd.Enabled ? Nbd?.LocalEndpoints.FirstOrDefault() : null;

    /// <summary>
    /// Composes and starts everything the configuration describes. On failure, whatever was
    /// started is stopped again before the exception propagates.
    /// </summary>
    /// <param name="configuration">A validated configuration (<see cref="ConfigurationLoader"/>, <see cref="ServeOptions.Resolve"/>).</param>
    /// <param name="components">The factories; <see cref="HostComponents.Default"/> when null.</param>
    /// <param name="nbdForStream">Build the NBD front end even with NBD listening off, to serve a stream (<c>--nbd-stdio</c>).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <param name="nbdListener">A socket already listening (systemd socket activation): NBD accepts on it instead of binding <see cref="NbdSettings.Listen"/>.</param>
    /// <exception cref="HostStartException">A backend, the adapter or a listener could not start.</exception>
    public static async Task<StorSharpHost> StartAsync(StorSharpConfiguration configuration, HostComponents? components = null, bool nbdForStream = false, CancellationToken cancellationToken = default, Socket? nbdListener = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        components ??= HostComponents.Default;
        EventLog events;
        try
        {
            events = new EventLog(configuration.EventLog);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HostStartException($"cannot open the event log {configuration.EventLog}: {e.Message}", e);
        }
        var port = new StoragePort(new PortOptions
        {
            EventLog = events,
            MaximumBuses = configuration.Port.MaximumBuses,
            HeartbeatInterval = configuration.Port.HeartbeatInterval,
            Tunables = configuration.Port.Tunables,
        });
        var host = new StorSharpHost(configuration, port, events);
        try
        {
            await host.ComposeAsync(components, nbdForStream, nbdListener, cancellationToken).ConfigureAwait(false);
            host.NameForDiagnostics();
            await host.StartManagementAsync(cancellationToken).ConfigureAwait(false);
            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task ComposeAsync(HostComponents components, bool nbdForStream, Socket? nbdListener, CancellationToken cancellationToken)
    {
        var config = Configuration;
        _components = components;

        // Block devices, one per LUN (the factory wraps each in CheckedBlockDevice).
        var luns = new List<ComposedLun>(config.Luns.Count);
        var targetIds = config.Targets.Select((t, i) => (t.Iqn, i)).ToDictionary(x => x.Iqn, x => (byte)x.i, StringComparer.OrdinalIgnoreCase);
        var nextLun = new Dictionary<byte, byte>();
        foreach (var lun in config.Luns)
        {
            var targetId = targetIds[lun.Target];
            var index = nextLun.GetValueOrDefault(targetId);
            nextLun[targetId] = (byte)(index + 1);
            IBlockDevice? device = null;
            try
            {
                if (lun.Backend != LunBackend.None) device = await components.OpenBlockDevice(lun, cancellationToken).ConfigureAwait(false);
                if (lun.Device == LunDevice.Dvd)
                {
                    // A DVD LUN is its drive; the image is the disc in it, which management may change.
                    var media = DvdMedia.Create(lun, device, components.OpenBlockDevice);
                    _media.Add(media);
                    luns.Add(new ComposedLun(new ScsiAddress(0, targetId, index), media.Drive.Slot, lun) { Media = media });
                    continue;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or BlockDeviceException or ArgumentException or DiskImageException)
            {
                if (device is not null) await device.DisposeAsync().ConfigureAwait(false);
                throw new HostStartException($"LUN {lun.Number} of {lun.Target}: cannot open {LunBackends.Describe(lun)}: {e.Message}", e);
            }
            _devices.Add(device!);
            luns.Add(new ComposedLun(new ScsiAddress(0, targetId, index), device!, lun));
        }
        Luns = luns;

        // One adapter per device kind, with the miniport that serves that kind.
        var adapters = new List<Adapter>();
        foreach (var kind in luns.GroupBy(l => l.Settings.Device))
        {
            Adapter adapter;
            try
            {
                adapter = await Port.AddAdapterAsync(components.CreateMiniport(kind.Key, [.. kind])).ConfigureAwait(false);
            }
            catch (AdapterStartException e)
            {
                throw new HostStartException($"the {kind.Key.ToString().ToLowerInvariant()} adapter did not start: {e.Message}", e);
            }
            adapters.Add(adapter);
            foreach (var lun in kind) lun.Adapter = adapter;
        }
        Adapters = adapters;

        // Fault injection the configuration starts with (luns[].faults): the LU's request filter.
        foreach (var lun in luns)
            if (lun.Settings.Faults.Count > 0) lun.Adapter.GetLogicalUnit(lun.Address)?.SetFaults(lun.Settings.Faults);

        // Front ends: iSCSI, then NBD.
        if (config.Iscsi.Enabled)
        {
            if (components.CreateIscsi is null) throw new HostStartException("this build has no iSCSI target; start with --iscsi off");
            var targets = config.Targets.Select(t => (t, (IReadOnlyList<ComposedLun>)[.. luns.Where(l => string.Equals(l.Settings.Target, t.Iqn, StringComparison.OrdinalIgnoreCase))])).ToList();
            Iscsi = components.CreateIscsi(new IscsiFrontEndSpec(config.Iscsi.Portals, targets, _events));
            _frontEnds.Add(Iscsi);
            await StartFrontEndAsync(Iscsi, config.Iscsi.Portals, cancellationToken).ConfigureAwait(false);
        }
        if (config.Nbd.Enabled || nbdForStream)
        {
            if (components.CreateNbd is null) throw new HostStartException("this build has no NBD server; start with --nbd off");
            var exports = config.Nbd.Exports.Select(e => (e, luns.First(l => l.Settings.Number == e.Lun && string.Equals(l.Settings.Target, e.Target, StringComparison.OrdinalIgnoreCase)))).ToList();
            NbdExports = exports;
            Nbd = components.CreateNbd(new NbdFrontEndSpec(config.Nbd.Enabled ? config.Nbd.Listen : null, exports, _events) { ReceivePoll = config.Nbd.ReceivePoll });
            _frontEnds.Add(Nbd);
            if (nbdListener is not null) await Nbd.AdoptListenerAsync(nbdListener, cancellationToken).ConfigureAwait(false);
            else if (config.Nbd.Enabled) await StartFrontEndAsync(Nbd, [config.Nbd.Listen], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Names each LU in the metrics and the dashboard ("TARGET LUN n") and counts each front end's sessions and receive polls.</summary>
    private void NameForDiagnostics()
    {
        foreach (var lun in Luns)
            Diagnostics.Metrics.NameUnit(lun.Adapter.Number, lun.Address, $"{lun.Settings.Target} LUN {lun.Settings.Number}");
        foreach (var frontEnd in _frontEnds)
        {
            Diagnostics.Metrics.AddSessionSource(frontEnd.Protocol.ToLowerInvariant(), () => frontEnd.SessionCount);
            if (frontEnd.ReceivePolling is { } polling)
                Diagnostics.Metrics.AddReceivePollingSource(frontEnd.Protocol.ToLowerInvariant(), () => (polling.Polls, polling.Hits));
        }
    }

    private async Task StartManagementAsync(CancellationToken cancellationToken)
    {
        if (Configuration.Management.Enabled)
            Management = await StorSharp.Host.Management.ManagementServer.StartAsync(this, Configuration.Management, cancellationToken).ConfigureAwait(false);
    }

    private static async Task StartFrontEndAsync(IFrontEnd frontEnd, IReadOnlyList<IPEndPoint> addresses, CancellationToken cancellationToken)
    {
        try
        {
            await frontEnd.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            var list = string.Join(", ", addresses);
            var reason = e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "the address is already in use (is another server running?)",
                SocketError.AddressNotAvailable => "the address is not one of this machine's",
                SocketError.AccessDenied => "permission denied (ports below 1024 need privileges)",
                _ => e.Message,
            };
            throw new HostStartException($"{frontEnd.Protocol} cannot listen on {list}: {reason}", e);
        }
    }

    /// <summary>Serves one NBD connection over <paramref name="stream"/> (<c>storsharp serve --nbd-stdio</c>).</summary>
    /// <exception cref="InvalidOperationException">The host was started without an NBD front end.</exception>
    public Task ServeNbdConnectionAsync(Stream stream, CancellationToken cancellationToken)
    {
        var nbd = Nbd ?? throw new InvalidOperationException("The host has no NBD front end.");
        return nbd.ServeConnectionAsync(stream, cancellationToken);
    }

    /// <summary>Stops the listeners and sessions, drains and flushes the adapter, closes the block devices and the event log.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        List<Exception> failures = [];
        if (Management is { } management)
        {
            try { await management.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) { failures.Add(e); }
        }
        for (var i = _frontEnds.Count - 1; i >= 0; i--)
        {
            try { await _frontEnds[i].DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) { failures.Add(e); }
        }
        try { await Port.DisposeAsync().ConfigureAwait(false); }
        catch (Exception e) { failures.Add(e); }
        Diagnostics.Dispose();
        foreach (var media in _media)
        {
            try { await media.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) { failures.Add(e); }
        }
        foreach (var device in _devices)
        {
            try
            {
                await device.FlushAsync().ConfigureAwait(false);
            }
            catch (BlockDeviceException)
            {
                // Read-only or failed devices cannot flush; closing them is all that is left.
            }
            catch (Exception e) { failures.Add(e); }
            try { await device.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) { failures.Add(e); }
        }
        _events.Dispose();
        if (failures.Count == 1) throw failures[0];
        if (failures.Count > 1) throw new AggregateException("The host did not stop cleanly.", failures);
    }
}

/// <summary>The host could not start: a backend, the adapter or a listener failed. The message says which and why.</summary>
public sealed class HostStartException : Exception
{
    /// <summary>Creates the exception.</summary>
    public HostStartException(string message, Exception? inner = null) : base(message, inner) { }
}
