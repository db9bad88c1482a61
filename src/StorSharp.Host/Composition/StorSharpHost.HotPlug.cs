using StorSharp.Block;
using StorSharp.Host.Configuration;
using StorSharp.Images;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Host;

/// <summary>Why a run-time LUN change was refused; nothing changed.</summary>
public enum LunChangeRefusal
{
    /// <summary>An argument is wrong (HTTP 400).</summary>
    Invalid,
    /// <summary>The target or LUN does not exist (HTTP 404).</summary>
    NotFound,
    /// <summary>The state forbids it: the LUN exists, its kind or backend cannot do it, requests would not drain (HTTP 409).</summary>
    Conflict,
}

/// <summary>A run-time LUN change (add, remove, resize, a DVD's disc inserted or ejected) was refused before anything changed.</summary>
/// <param name="refusal">Which kind of refusal.</param>
/// <param name="field">The request field at fault (<c>target</c>, <c>lun</c>, <c>size</c>, <c>faults[0].rate</c>...).</param>
/// <param name="message">What is wrong, for people.</param>
public sealed class LunChangeException(LunChangeRefusal refusal, string field, string message) : Exception(message)
{
    /// <summary>Which kind of refusal.</summary>
    public LunChangeRefusal Refusal { get; } = refusal;

    /// <summary>The request field at fault.</summary>
    public string Field { get; } = field;
}

// Hot plug: LUNs added, removed and resized while the server runs (the management API's lun
// operations). The miniport changes its unit table and calls BusChangeDetected; the port
// enumerates again and starts or removes the LU; the front ends follow.
public sealed partial class StorSharpHost
{
    private readonly SemaphoreSlim _hotPlug = new(1, 1);
    private HostComponents _components = HostComponents.Default;

    /// <summary>How long a resize waits for the LU's outstanding requests to finish.</summary>
    private static readonly TimeSpan ResizeDrainTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The NBD exports served now, each with its LU.</summary>
    public IReadOnlyList<(NbdExportSettings Export, ComposedLun Lun)> NbdExports { get; private set; } = [];

    /// <summary>
    /// Adds a disk LUN at run time: opens its backend, adds the unit to the SCSI disk miniport (which
    /// calls BusChangeDetected; the port enumerates and starts the LU, event 1030; the target's other
    /// LUs get REPORTED LUNS DATA HAS CHANGED), then the iSCSI target lists it (and sends an
    /// asynchronous event) and NBD serves it as <paramref name="export"/> when given.
    /// </summary>
    /// <param name="settings">A validated LUN (<see cref="ConfigurationLoader"/>), device <c>disk</c>.</param>
    /// <param name="export">The NBD export to serve it as, or null.</param>
    /// <param name="cancellationToken">Cancels opening the backend.</param>
    /// <exception cref="LunChangeException">The target is unknown, the LUN or export exists, the kind is not disk, or the backend cannot be opened; nothing changed.</exception>
    public async Task<ComposedLun> AddLunAsync(LunSettings settings, NbdExportSettings? export, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        await _hotPlug.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int targetIndex = TargetIndex(settings.Target);
            if (FindLun(settings.Target, settings.Number) is not null)
                throw new LunChangeException(LunChangeRefusal.Conflict, "lun", $"LUN {settings.Number} of {settings.Target} exists; remove it first or pick another number");
            if (settings.Device != LunDevice.Disk)
                throw new LunChangeException(LunChangeRefusal.Invalid, "device", $"only disk LUNs can be added at run time, not {settings.Device.ToString().ToLowerInvariant()}");
            if (Luns.Count(l => l.Settings.Target.Equals(settings.Target, StringComparison.OrdinalIgnoreCase)) >= ConfigurationValidator.MaxLunsPerTarget)
                throw new LunChangeException(LunChangeRefusal.Conflict, "lun", $"{settings.Target} has {ConfigurationValidator.MaxLunsPerTarget} LUNs, the most a target holds");
            if (export is not null)
            {
                if (Nbd is null || !Configuration.Nbd.Enabled)
                    throw new LunChangeException(LunChangeRefusal.Conflict, "export", "NBD is off on this server; leave export out");
                if (NbdExports.Any(e => e.Export.Name == export.Name))
                    throw new LunChangeException(LunChangeRefusal.Conflict, "export", $"an NBD export named '{export.Name}' exists");
            }

            var adapter = await DiskAdapterAsync().ConfigureAwait(false);
            var miniport = (ScsiDiskMiniport)adapter.Miniport;
            var address = new ScsiAddress(0, (byte)targetIndex, FreeLunAddress(adapter, (byte)targetIndex));

            IBlockDevice device;
            try
            {
                device = await _components.OpenBlockDevice(settings, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or BlockDeviceException or ArgumentException or DiskImageException)
            {
                throw new LunChangeException(LunChangeRefusal.Invalid, settings.Backend == LunBackend.Nbd ? "uri" : settings.Backend == LunBackend.Ram ? "size" : "path",
                    $"cannot open {LunBackends.Describe(settings)}: {e.Message}");
            }

            var lun = new ComposedLun(address, device, settings) { Adapter = adapter };
            try
            {
                miniport.AddUnit(new ScsiDiskDefinition(address, device)
                {
                    ProductId = settings.ProductId,
                    SerialNumber = settings.EffectiveSerial,
                    Removable = settings.Removable,
                    ReadOnly = settings.ReadOnly,
                });
                await adapter.RescanAsync().ConfigureAwait(false);
                var unit = adapter.GetLogicalUnit(address) ?? throw new InvalidOperationException($"the port did not find the new LU at {address} of {adapter.DeviceName}");
                if (settings.Faults.Count > 0) unit.SetFaults(settings.Faults);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                await DisposeDeviceAsync(device).ConfigureAwait(false);
                throw new LunChangeException(LunChangeRefusal.Conflict, "lun", $"the adapter refused the LUN: {e.Message}");
            }
            _devices.Add(device);
            Luns = [.. Luns, lun];
            Diagnostics.Metrics.NameUnit(adapter.Number, address, $"{settings.Target} LUN {settings.Number}");
            foreach (var frontEnd in _frontEnds.OfType<ILunHotPlug>())
                await frontEnd.LunAddedAsync(lun, frontEnd is INbdFrontEnd ? export : null, cancellationToken).ConfigureAwait(false);
            if (export is not null) NbdExports = [.. NbdExports, (export, lun)];
            return lun;
        }
        finally { _hotPlug.Release(); }
    }

    /// <summary>
    /// Removes a LUN at run time. The front ends stop offering it first (iSCSI answers LOGICAL UNIT
    /// NOT SUPPORTED and sends an asynchronous event; its NBD exports disappear); then the miniport
    /// drops the unit and the port removes the LU: orderly (requests already accepted drain, then
    /// UnitControl Remove) or, with <paramref name="surprise"/>, at once (everything outstanding fails
    /// with NO_DEVICE, UnitControl SurpriseRemoval). Event 1031 records it. Returns once the LU is gone
    /// and its backend is flushed and closed.
    /// </summary>
    /// <exception cref="LunChangeException">No such LUN, or its adapter cannot remove LUs; nothing changed.</exception>
    public async Task<ComposedLun> RemoveLunAsync(string target, int number, bool surprise, CancellationToken cancellationToken = default)
    {
        await _hotPlug.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var lun = FindLun(target, number) ?? throw NoSuchLun(target, number);
            if (lun.Adapter.Miniport is not ScsiDiskMiniport miniport)
                throw new LunChangeException(LunChangeRefusal.Conflict, "lun", $"the {lun.Adapter.Registration.Name} miniport of LUN {number} cannot remove LUs at run time");
            foreach (var frontEnd in _frontEnds.OfType<ILunHotPlug>())
                await frontEnd.LunRemovingAsync(lun, CancellationToken.None).ConfigureAwait(false);
            NbdExports = [.. NbdExports.Where(e => !ReferenceEquals(e.Lun, lun))];
            Luns = [.. Luns.Where(l => !ReferenceEquals(l, lun))];
            miniport.RemoveUnit(lun.Address, surprise);
            await lun.Adapter.RescanAsync().ConfigureAwait(false);
            _devices.Remove(lun.Device);
            await DisposeDeviceAsync(lun.Device).ConfigureAwait(false);
            return lun;
        }
        finally { _hotPlug.Release(); }
    }

    /// <summary>
    /// Grows a LUN to <paramref name="sizeBytes"/>: the LU is paused and its outstanding requests
    /// drain, the backend grows, the LU resumes; every I_T nexus gets CAPACITY DATA HAS CHANGED
    /// (2A/09), iSCSI sessions an asynchronous event, and new NBD connections see the new size.
    /// </summary>
    /// <exception cref="LunChangeException">No such LUN; the size is not larger or not whole blocks; the backend cannot grow; requests did not drain. Nothing changed.</exception>
    public async Task<ComposedLun> ResizeLunAsync(string target, int number, long sizeBytes, CancellationToken cancellationToken = default)
    {
        await _hotPlug.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var lun = FindLun(target, number) ?? throw NoSuchLun(target, number);
            var geometry = lun.Device.Geometry;
            if (sizeBytes <= 0 || sizeBytes % geometry.LogicalBlockSize != 0)
                throw new LunChangeException(LunChangeRefusal.Invalid, "size", $"is {sizeBytes} bytes; it must be a positive whole number of {geometry.LogicalBlockSize}-byte blocks");
            if (sizeBytes <= geometry.SizeBytes)
                throw new LunChangeException(LunChangeRefusal.Invalid, "size", $"is {SizeParser.Format(sizeBytes)}; LUN {number} is {SizeParser.Format(geometry.SizeBytes)} and can only grow (shrinking would cut off blocks initiators still address)");
            if (lun.Adapter.Miniport is not ScsiDiskMiniport miniport || lun.Settings.Device != LunDevice.Disk)
                throw new LunChangeException(LunChangeRefusal.Conflict, "lun", $"LUN {number} is a {lun.Settings.Device.ToString().ToLowerInvariant()}; only disks can be resized");
            if (lun.Device is not IResizableBlockDevice { CanGrow: true } resizable)
                throw new LunChangeException(LunChangeRefusal.Conflict, "lun", $"LUN {number} is {LunBackends.Describe(lun.Settings)}{(lun.Settings.ReadOnly ? ", read-only" : "")}; only writable ram and file backends can grow");
            var unit = lun.Adapter.GetLogicalUnit(lun.Address) ?? throw NoSuchLun(target, number);
            if (unit.IsPaused)
                throw new LunChangeException(LunChangeRefusal.Conflict, "lun", $"LUN {number} is paused; resume it first (the resize pauses and resumes it itself)");

            bool drained = await unit.PauseAndDrainAsync(ResizeDrainTimeout).ConfigureAwait(false);
            try
            {
                if (!drained)
                    throw new LunChangeException(LunChangeRefusal.Conflict, "lun", $"LUN {number} still had {unit.OutstandingCount} request(s) outstanding after {ResizeDrainTimeout.TotalSeconds:0} s; try again");
                await resizable.GrowAsync(sizeBytes / geometry.LogicalBlockSize, cancellationToken).ConfigureAwait(false);
                miniport.OnCapacityChanged(lun.Address);
            }
            catch (BlockDeviceException e)
            {
                throw new LunChangeException(LunChangeRefusal.Conflict, "size", $"the backend could not grow: {e.Message}");
            }
            finally
            {
                lun.Adapter.Services.ResumeDevice(lun.Address);
            }
            unit.Adapter.Log(StorageEventIds.LunResized, EventLevel.Information,
                $"Logical unit {lun.Address} on {unit.Adapter.DeviceName} grew from {geometry.SizeBytes} to {sizeBytes} bytes.",
                ("Address", lun.Address.ToString()), ("PreviousBytes", geometry.SizeBytes.ToString()), ("SizeBytes", sizeBytes.ToString()));
            foreach (var frontEnd in _frontEnds.OfType<ILunHotPlug>())
                await frontEnd.LunResizedAsync(lun, CancellationToken.None).ConfigureAwait(false);
            return lun;
        }
        finally { _hotPlug.Release(); }
    }

    /// <summary>The LUN <paramref name="number"/> of <paramref name="target"/>, or null.</summary>
    public ComposedLun? FindLun(string target, int number) =>
        Luns.FirstOrDefault(l => l.Settings.Number == number && string.Equals(l.Settings.Target, target, StringComparison.OrdinalIgnoreCase));

    private int TargetIndex(string target)
    {
        for (int i = 0; i < Configuration.Targets.Count; i++)
            if (string.Equals(Configuration.Targets[i].Iqn, target, StringComparison.OrdinalIgnoreCase)) return i;
        throw new LunChangeException(LunChangeRefusal.NotFound, "target", $"there is no target '{target}'; the targets are {string.Join(", ", Configuration.Targets.Select(t => t.Iqn))}");
    }

    private static LunChangeException NoSuchLun(string target, int number) =>
        new(LunChangeRefusal.NotFound, "target", $"there is no LUN {number} behind target '{target}'; GET /v1/luns lists them");

    /// <summary>The adapter of the SCSI disk miniport; started (with no LUs) if the configuration had no disk.</summary>
    private async Task<Adapter> DiskAdapterAsync()
    {
        if (Adapters.FirstOrDefault(a => a.Miniport is ScsiDiskMiniport && Luns.Any(l => ReferenceEquals(l.Adapter, a) && l.Settings.Device == LunDevice.Disk)) is { } existing)
            return existing;
        if (Adapters.FirstOrDefault(a => a.Miniport is ScsiDiskMiniport && !Luns.Any(l => ReferenceEquals(l.Adapter, a))) is { } empty)
            return empty;
        Adapter adapter;
        try
        {
            adapter = await Port.AddAdapterAsync(_components.CreateMiniport(LunDevice.Disk, [])).ConfigureAwait(false);
        }
        catch (AdapterStartException e)
        {
            throw new LunChangeException(LunChangeRefusal.Conflict, "device", $"the disk adapter did not start: {e.Message}");
        }
        Adapters = [.. Adapters, adapter];
        return adapter;
    }

    /// <summary>The lowest LUN address of the target free on the adapter (the port's LUN byte; the number initiators see is the front end's).</summary>
    private byte FreeLunAddress(Adapter adapter, byte targetId)
    {
        var used = Luns.Where(l => ReferenceEquals(l.Adapter, adapter) && l.Address.TargetId == targetId).Select(l => l.Address.Lun).ToHashSet();
        foreach (var lu in adapter.LogicalUnits) if (lu.Address.TargetId == targetId) used.Add(lu.Address.Lun);
        for (int i = 0; i < ScsiAddress.Wildcard; i++)
            if (!used.Contains((byte)i)) return (byte)i;
        throw new LunChangeException(LunChangeRefusal.Conflict, "lun", $"target id {targetId} of {adapter.DeviceName} has no free LUN address");
    }

    private static async Task DisposeDeviceAsync(IBlockDevice device)
    {
        try { await device.FlushAsync().ConfigureAwait(false); }
        catch (BlockDeviceException) { /* read-only or failed: closing is all that is left */ }
        await device.DisposeAsync().ConfigureAwait(false);
    }
}
