using System.Net;
using StorSharp.Block;
using StorSharp.Host.Configuration;
using StorSharp.Port;

namespace StorSharp.Host;

/// <summary>A network front end (iSCSI target, NBD server) as the host starts and stops it.</summary>
public interface IFrontEnd : IAsyncDisposable
{
    /// <summary>The protocol's name for messages: <c>iSCSI</c> or <c>NBD</c>.</summary>
    string Protocol { get; }

    /// <summary>Binds the listeners and starts accepting connections.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>The addresses actually listened on (port 0 resolved), once started.</summary>
    IReadOnlyList<IPEndPoint> LocalEndpoints { get; }

    /// <summary>How many clients are connected now: iSCSI sessions, NBD connections (the <c>storsharp_sessions</c> metric).</summary>
    int SessionCount { get; }

    /// <summary>The receive polling its connections share (the <c>storsharp_receive_polls_total</c> metric); null when the front end does not poll.</summary>
    StorSharp.Transport.ReceivePolling? ReceivePolling => null;
}

/// <summary>An NBD front end that can also serve one connection on a stream (stdin/stdout) or adopt a listening socket (systemd).</summary>
public interface INbdFrontEnd : IFrontEnd
{
    /// <summary>Serves one NBD connection over <paramref name="stream"/> until the client disconnects.</summary>
    Task ServeConnectionAsync(Stream stream, CancellationToken cancellationToken);

    /// <summary>Accepts connections on a socket that is already listening (systemd socket activation).</summary>
    Task AdoptListenerAsync(System.Net.Sockets.Socket listener, CancellationToken cancellationToken);
}

/// <summary>A logical unit as composed by the host: its port address, its block device and its settings.</summary>
/// <param name="Address">Where the LU sits on its adapter: bus 0, the target's index, the LU's index within the target.</param>
/// <param name="Device">The block device (already wrapped in <c>CheckedBlockDevice</c>, which checks every range); for a DVD, the drive's view of whatever disc is loaded (<see cref="StorSharp.Optical.OpticalDrive.Slot"/>).</param>
/// <param name="Settings">The LUN's configuration (number, device kind, product id, serial, flags).</param>
public sealed record ComposedLun(ScsiAddress Address, IBlockDevice Device, LunSettings Settings)
{
    /// <summary>The adapter whose miniport serves the LU (one adapter per <see cref="LunSettings.Device"/> kind); set once that adapter has started.</summary>
    public Adapter Adapter { get; internal set; } = null!;

    /// <summary>For a <c>device: dvd</c> LUN: its drive and the disc in it, which management can change; null for other devices.</summary>
    public DvdMedia? Media { get; init; }
}

/// <summary>What the NBD front end is built from.</summary>
/// <param name="Listen">The address to listen on; null when only <see cref="INbdFrontEnd.ServeConnectionAsync"/> is used.</param>
/// <param name="Exports">The exports, each with the LU it serves.</param>
/// <param name="Events">The port's event log.</param>
public sealed record NbdFrontEndSpec(IPEndPoint? Listen, IReadOnlyList<(NbdExportSettings Export, ComposedLun Lun)> Exports, EventLog Events)
{
    /// <summary>How long a busy lock-step connection polls for its next request before it sleeps (<see cref="NbdSettings.ReceivePoll"/>); zero for off.</summary>
    public TimeSpan ReceivePoll { get; init; } = StorSharp.Transport.ReceivePolling.DefaultWindow;
}

/// <summary>What the iSCSI front end is built from.</summary>
/// <param name="Portals">The addresses to listen on.</param>
/// <param name="Targets">The targets, each with its LUs.</param>
/// <param name="Events">The port's event log.</param>
public sealed record IscsiFrontEndSpec(IReadOnlyList<IPEndPoint> Portals, IReadOnlyList<(TargetSettings Target, IReadOnlyList<ComposedLun> Luns)> Targets, EventLog Events);

/// <summary>
/// The parts the host composes, as factories, so tests can replace any of them. <see cref="Default"/>
/// builds the real ones: the block devices of each backend, the miniport of each device kind, the NBD
/// server and the iSCSI target.
/// </summary>
public sealed record HostComponents
{
    /// <summary>Opens (or creates) the block device of a LUN. The factory wraps it in <c>CheckedBlockDevice</c>. It also opens the discs the management API inserts in DVD drives, as <c>backend: file</c>, read-only.</summary>
    public required Func<LunSettings, CancellationToken, ValueTask<IBlockDevice>> OpenBlockDevice { get; init; }

    /// <summary>Makes the registration of the miniport that serves the given LUs, all of one device kind; the host starts an adapter with it.</summary>
    public required Func<LunDevice, IReadOnlyList<ComposedLun>, VirtualMiniportRegistration> CreateMiniport { get; init; }

    /// <summary>Makes the NBD front end; null when this build has none.</summary>
    public Func<NbdFrontEndSpec, INbdFrontEnd>? CreateNbd { get; init; }

    /// <summary>Makes the iSCSI front end; null when this build has none.</summary>
    public Func<IscsiFrontEndSpec, IFrontEnd>? CreateIscsi { get; init; }

    /// <summary>The real components.</summary>
    public static HostComponents Default { get; } = DefaultComponents.Create();
}
