using System.Collections.Concurrent;
using System.Collections.Frozen;
using StorSharp.Port;

namespace StorSharp.Scsi;

/// <summary>
/// A virtual miniport that serves SCSI disks (peripheral device type 0, SBC-4) over block devices:
/// the StorSharp counterpart of a Storport virtual disk miniport. It turns CDBs into block
/// operations through a declarative opcode table (<see cref="Commands"/>); the block devices never
/// see a CDB.
/// </summary>
/// <example>
/// <code>
/// var disks = new[] { new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), ramDisk) { ProductId = "Scratch" } };
/// await using var port = new StoragePort();
/// var adapter = await port.AddAdapterAsync(ScsiDiskMiniport.CreateRegistration(disks));
/// </code>
/// </example>
public sealed class ScsiDiskMiniport : IVirtualMiniport, IMiniportUnitControl
{
    // The unit table is copied on write (a LUN added or removed at run time) and read lock-free.
    private readonly Lock _tableLock = new();
    private volatile FrozenDictionary<ScsiAddress, DiskUnit> _units;
    private volatile FrozenDictionary<(byte Bus, byte Target), byte[]> _targets;
    private readonly HashSet<ScsiAddress> _departing = [];
    private readonly Dictionary<ScsiAddress, DiskUnit> _vanished = [];
    private readonly ConcurrentDictionary<ScsiAddress, DiskUnit> _absent = new();
    private IPortServices? _port;
    private PortConfiguration? _reported;

    /// <summary>Creates the miniport for one adapter.</summary>
    /// <param name="disks">The LUs to serve; addresses must be unique.</param>
    /// <param name="options">Adapter-wide settings; defaults when null.</param>
    /// <exception cref="ArgumentException">Two disks share an address, or a definition is malformed.</exception>
    public ScsiDiskMiniport(IEnumerable<ScsiDiskDefinition> disks, ScsiDiskMiniportOptions? options = null)
        : this(disks, options, ScsiDeviceModel.Disk)
    {
    }

    /// <summary>Creates the miniport for LUs of another device type (<paramref name="model"/>) on the same machinery.</summary>
    internal ScsiDiskMiniport(IEnumerable<ScsiDiskDefinition> disks, ScsiDiskMiniportOptions? options, ScsiDeviceModel model)
    {
        ArgumentNullException.ThrowIfNull(disks);
        Model = model;
        Options = options ?? new ScsiDiskMiniportOptions();
        var units = new Dictionary<ScsiAddress, DiskUnit>();
        foreach (var d in disks)
        {
            ArgumentNullException.ThrowIfNull(d);
            ArgumentNullException.ThrowIfNull(d.Device);
            if (d.Address.PathId == ScsiAddress.Wildcard || d.Address.TargetId == ScsiAddress.Wildcard || d.Address.Lun == ScsiAddress.Wildcard)
                throw new ArgumentException($"The address {d.Address} uses the wildcard value 255.", nameof(disks));
            if (!units.TryAdd(d.Address, new DiskUnit(this, d, Options)))
                throw new ArgumentException($"Two disks are defined at {d.Address}.", nameof(disks));
        }
        _units = units.ToFrozenDictionary();
        _targets = TargetsOf(units.Keys);
    }

    private static FrozenDictionary<(byte Bus, byte Target), byte[]> TargetsOf(IEnumerable<ScsiAddress> addresses) =>
        addresses.GroupBy(a => (a.PathId, a.TargetId)).ToFrozenDictionary(g => g.Key, g => g.Select(a => a.Lun).Order().ToArray());

    /// <summary>Makes the registration record for <see cref="StoragePort.AddAdapterAsync"/>: every adapter it creates serves <paramref name="disks"/>.</summary>
    /// <param name="disks">The LUs to serve.</param>
    /// <param name="options">Adapter-wide settings.</param>
    /// <param name="name">The miniport's name in events and listings.</param>
    public static VirtualMiniportRegistration CreateRegistration(IEnumerable<ScsiDiskDefinition> disks, ScsiDiskMiniportOptions? options = null, string name = "ScsiDisk")
    {
        var list = disks.ToArray();
        _ = new ScsiDiskMiniport(list, options); // validate now, not when the port calls back
        return new VirtualMiniportRegistration
        {
            Name = name,
            CreateMiniport = () => new ScsiDiskMiniport(list, options),
            TaggedQueuing = true,
            MultipleRequestPerLu = true,
            AutoRequestSense = true,
        };
    }

    /// <summary>The opcode table of a SCSI disk: every command the miniport serves.</summary>
    public static ScsiCommandTable Commands => DiskCommands.Table;

    /// <summary>The settings.</summary>
    public ScsiDiskMiniportOptions Options { get; }

    /// <summary>The device type served: the disk's, or the one another device type's miniport chose.</summary>
    internal ScsiDeviceModel Model { get; }

    /// <summary>The LUs served now (LUs being removed are left out), by address.</summary>
    public IReadOnlyList<ScsiDiskDefinition> Disks
    {
        get
        {
            lock (_tableLock) return [.. _units.Values.Where(u => !_departing.Contains(u.Address)).Select(u => u.Definition!).OrderBy(d => d.Address.PathId).ThenBy(d => d.Address.TargetId).ThenBy(d => d.Address.Lun)];
        }
    }

    internal IPortServices Port => _port ?? throw new InvalidOperationException("FindAdapter has not run.");

    internal IEnumerable<byte> LunsOf(byte bus, byte target) => _targets.TryGetValue((bus, target), out var luns) ? luns : [];

    /// <summary>The LU of this miniport whose VPD 83h NAA designator is <paramref name="naa"/> (EXTENDED COPY CSCD descriptors), or null.</summary>
    internal DiskUnit? FindByNaa(ReadOnlySpan<byte> naa)
    {
        foreach (var unit in _units.Values)
            if (unit.Present && unit.NaaIdentifier.AsSpan().SequenceEqual(naa)) return unit;
        return null;
    }

    internal int InFlightCount(ScsiAddress address) => _units.TryGetValue(address, out var u) ? u.InFlightCount : 0;

    // ------------------------------------------------------------------ initialisation

    /// <inheritdoc/>
    public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments)
    {
        _port = port;
        configuration.Cover(_units.Keys);
        // Room for LUs added at run time (AddUnit refuses addresses outside what is reported here).
        configuration.MaximumNumberOfTargets = Math.Max(configuration.MaximumNumberOfTargets, Options.MaximumNumberOfTargets);
        configuration.MaximumNumberOfLogicalUnits = Math.Max(configuration.MaximumNumberOfLogicalUnits, Options.MaximumNumberOfLogicalUnits);
        _reported = configuration;
        configuration.MaximumTransferLength = Options.MaximumTransferLength;
        configuration.DefaultQueueDepth = Options.DefaultQueueDepth;
        configuration.BusType = Options.BusType;
        configuration.CachesData = true;
        return FindAdapterResult.Found;
    }

    /// <inheritdoc/>
    public bool Initialize() => true;

    /// <inheritdoc/>
    public ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported) =>
        VirtualAdapterControl.Answer(type, supported);

    /// <inheritdoc/>
    public ControlStatus UnitControl(UnitControlType type, ScsiAddress address, ISet<UnitControlType> supported)
    {
        switch (type)
        {
            case UnitControlType.QuerySupportedUnitControlTypes:
                supported.Add(UnitControlType.QuerySupportedUnitControlTypes);
                supported.Add(UnitControlType.Start);
                supported.Add(UnitControlType.Remove);
                supported.Add(UnitControlType.SurpriseRemoval);
                return ControlStatus.Success;
            case UnitControlType.Start:
                return _units.ContainsKey(address) ? ControlStatus.Success : ControlStatus.Unsuccessful;
            case UnitControlType.SurpriseRemoval:
                return SurpriseRemoved(address) ? ControlStatus.Success : ControlStatus.Unsuccessful;
            case UnitControlType.Remove:
                return Removed(address) ? ControlStatus.Success : ControlStatus.Unsuccessful;
            default:
                return ControlStatus.Unsuccessful;
        }
    }

    // ------------------------------------------------------------------ run-time LUNs (hot plug)

    /// <summary>
    /// Adds an LU at run time: it is served at once, the other LUs of its target get REPORTED LUNS
    /// DATA HAS CHANGED (3F/0E) for every nexus, and the port is told (BusChangeDetected) so it
    /// enumerates the bus again and starts the LU (event 1030).
    /// </summary>
    /// <exception cref="ArgumentException">The address is the wildcard, out of the adapter's range, or in use (also by an LU still being removed).</exception>
    public void AddUnit(ScsiDiskDefinition disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentNullException.ThrowIfNull(disk.Device);
        var a = disk.Address;
        if (a.PathId == ScsiAddress.Wildcard || a.TargetId == ScsiAddress.Wildcard || a.Lun == ScsiAddress.Wildcard)
            throw new ArgumentException($"The address {a} uses the wildcard value 255.", nameof(disk));
        var port = Port;
        if (_reported is { } c && (a.PathId >= c.NumberOfBuses || a.TargetId >= c.MaximumNumberOfTargets || a.Lun >= c.MaximumNumberOfLogicalUnits))
            throw new ArgumentException($"The address {a} is outside what FindAdapter reported ({c.NumberOfBuses} bus(es), {c.MaximumNumberOfTargets} target(s), {c.MaximumNumberOfLogicalUnits} LUN(s) per target), so the port would never find it; " +
                "raise ScsiDiskMiniportOptions.MaximumNumberOfTargets / MaximumNumberOfLogicalUnits.", nameof(disk));
        lock (_tableLock)
        {
            if (_units.ContainsKey(a) || _vanished.ContainsKey(a))
                throw new ArgumentException($"An LU is already at {a}{(_departing.Contains(a) || _vanished.ContainsKey(a) ? " (it is being removed)" : "")}.", nameof(disk));
            var unit = new DiskUnit(this, disk, Options);
            var units = new Dictionary<ScsiAddress, DiskUnit>(_units) { [a] = unit };
            PublishLocked(units);
            _absent.TryRemove(a, out _);
        }
        AnnounceLunChange(a);
        port.BusChangeDetected(a.PathId);
    }

    /// <summary>
    /// Removes an LU at run time. An orderly removal keeps serving the LU's requests but leaves it out
    /// of REPORT LUNS; the port, told by BusChangeDetected, refuses new requests, drains the ones it
    /// accepted and sends UnitControl(Remove), which drops the LU. A surprise removal drops it now:
    /// new commands get LOGICAL UNIT NOT SUPPORTED, and the port fails what is outstanding with
    /// NO_DEVICE and sends UnitControl(SurpriseRemoval). Either way the other LUs of the target get
    /// REPORTED LUNS DATA HAS CHANGED (3F/0E).
    /// </summary>
    /// <exception cref="ArgumentException">No LU is at <paramref name="address"/>, or it is already being removed.</exception>
    public void RemoveUnit(ScsiAddress address, bool surprise)
    {
        var port = Port;
        lock (_tableLock)
        {
            if (!_units.TryGetValue(address, out var unit) || (_departing.Contains(address) && !surprise))
                throw new ArgumentException($"No LU is at {address}{(_departing.Contains(address) ? " (it is already being removed)" : "")}.", nameof(address));
            if (surprise)
            {
                _departing.Remove(address); // an orderly removal under way becomes a surprise one
                _vanished[address] = unit;
                PublishLocked(_units.Where(kv => kv.Key != address).ToDictionary());
            }
            else
            {
                _departing.Add(address);
                _targets = TargetsOf(_units.Keys.Where(k => !_departing.Contains(k)));
            }
        }
        AnnounceLunChange(address);
        port.BusChangeDetected(address.PathId);
    }

    /// <summary>
    /// The LU's block device changed size (the caller resized it): every nexus gets CAPACITY DATA HAS
    /// CHANGED (2A/09), SBC-4 §4.6; READ CAPACITY reports the new size from now on.
    /// </summary>
    /// <exception cref="ArgumentException">No LU is at <paramref name="address"/>.</exception>
    public void OnCapacityChanged(ScsiAddress address)
    {
        if (!_units.TryGetValue(address, out var unit)) throw new ArgumentException($"No LU is at {address}.", nameof(address));
        unit.Nexuses.AddToAll(SenseCodes.CapacityDataHasChanged);
    }

    /// <summary>The LUs a BusChangeDetected concerns: the others of the target learn that its LUN inventory changed.</summary>
    private void AnnounceLunChange(ScsiAddress changed)
    {
        foreach (var unit in _units.Values)
            if (unit.Address.PathId == changed.PathId && unit.Address.TargetId == changed.TargetId && unit.Address != changed)
                unit.Nexuses.AddToAll(SenseCodes.ReportedLunsDataHasChanged);
    }

    private void PublishLocked(Dictionary<ScsiAddress, DiskUnit> units)
    {
        _units = units.ToFrozenDictionary();
        _targets = TargetsOf(units.Keys.Where(k => !_departing.Contains(k)));
    }

    /// <summary>UnitControl(SurpriseRemoval): tasks of the vanished LU still in flight are discarded; their late results touch nothing.</summary>
    private bool SurpriseRemoved(ScsiAddress address)
    {
        DiskUnit? unit;
        lock (_tableLock) _vanished.TryGetValue(address, out unit);
        if (unit is null) return false;
        var aborts = new List<Srb>();
        unit.DiscardAll(aborts);
        foreach (var abort in aborts) Complete(abort, SrbStatus.Success);
        return true;
    }

    /// <summary>UnitControl(Remove): the port has drained (or failed) the LU's requests; the LU is forgotten.</summary>
    private bool Removed(ScsiAddress address)
    {
        DiskUnit? unit = null;
        lock (_tableLock)
        {
            if (_vanished.Remove(address, out var vanished)) unit = vanished;
            else if (_departing.Remove(address) && _units.TryGetValue(address, out var departing))
            {
                unit = departing;
                PublishLocked(_units.Where(kv => kv.Key != address).ToDictionary());
            }
        }
        if (unit is null) return false;
        Model.DetachUnit?.Invoke(unit);
        return true;
    }

    /// <inheritdoc/>
    public void FreeAdapterResources()
    {
        if (Model.DetachUnit is { } detach) foreach (var unit in _units.Values) detach(unit);
    }

    // ------------------------------------------------------------------ I/O

    /// <inheritdoc/>
    public bool StartIo(Srb srb)
    {
        switch (srb.Function)
        {
            case SrbFunction.ExecuteScsi:
                Execute(srb);
                break;
            case SrbFunction.Flush:
            case SrbFunction.Shutdown:
                if (_units.TryGetValue(srb.Address, out var unit)) unit.Begin(srb).StartFlush(srbFunction: true);
                else Complete(srb, SrbStatus.NoDevice);
                break;
            case SrbFunction.ResetLogicalUnit:
            case SrbFunction.ResetDevice:
                // In its own method: a lambda here that captured srb would make every StartIo allocate its closure.
                ResetScope(srb);
                break;
            case SrbFunction.AbortCommand:
                Abort(srb);
                break;
            case SrbFunction.IoControl:
                Control(srb);
                break;
            default:
                Complete(srb, SrbStatus.BadFunction);
                break;
        }
        return true;
    }

    private void ResetScope(Srb srb)
    {
        var address = srb.Address;
        if (srb.Function == SrbFunction.ResetLogicalUnit) Reset(srb, u => u.Address == address);
        else Reset(srb, u => u.Address.PathId == address.PathId && u.Address.TargetId == address.TargetId);
    }

    private void Complete(Srb srb, SrbStatus status)
    {
        srb.Status = status;
        Port.CompleteRequest(srb);
    }

    private void Execute(Srb srb)
    {
        var address = srb.Address;
        if (!_units.TryGetValue(address, out var unit))
        {
            if (!_targets.ContainsKey((address.PathId, address.TargetId)))
            {
                // No target at this address: the port's enumeration skips it (Storport: selection timeout).
                Complete(srb, SrbStatus.SelectionTimeout);
                return;
            }
            unit = _absent.GetOrAdd(address, static (a, self) => new DiskUnit(self, a), this);
        }
        if (srb.CdbLength == 0)
        {
            Complete(srb, SrbStatus.InvalidRequest);
            return;
        }
        var task = unit.Begin(srb);
        int generation = task.Generation;
        try
        {
            Dispatch(task);
        }
        catch (Exception ex) when (task.Generation == generation && task.IsRunning)
        {
            task.CompleteException(ex, writing: false, lba: 0);
        }
    }

    /// <summary>
    /// Looks the CDB up in the opcode table, checks it, and runs the handler. The checks run in
    /// SAM-5's order: a LUN that is not there, a pending unit attention, the opcode, reserved
    /// bits, reservations, write protection.
    /// </summary>
    private static void Dispatch(ScsiTask task)
    {
        var cdb = task.Cdb;
        var table = task.Unit.Miniport.Model.Commands;
        var lookup = table.Find(cdb, out var command);
        if (lookup == CommandLookup.Found && !command!.IsAvailableOn(task.Unit))
        {
            // A service action this LU lacks (BLOCK ERASE on a thick LU) of an opcode it has is an
            // unknown service action (INVALID FIELD IN CDB); otherwise the opcode is unknown.
            lookup = command.ServiceAction is not null && table.AnyServiceActionAvailable(command.Opcode, task.Unit)
                ? CommandLookup.UnknownServiceAction : CommandLookup.UnknownOpcode;
        }
        var flags = lookup == CommandLookup.Found ? command!.Flags : ScsiCommandFlags.None;
        var unit = task.Unit;
        if (!unit.Present)
        {
            if (lookup != CommandLookup.Found || (flags & ScsiCommandFlags.AnswersForAbsentUnit) == 0)
            {
                // SPC-4 §4.5.6 / SAM-5 §5.9: commands to a LUN that is not there.
                task.CompleteCheckCondition(SenseCodes.LogicalUnitNotSupported);
                return;
            }
        }
        else
        {
            var nexus = task.Nexus = unit.Nexuses.Get(task.Srb.Nexus);
            // SAM-5 §5.14: a pending unit attention fails any command but INQUIRY, REPORT LUNS and
            // REQUEST SENSE, and is cleared by being reported.
            if (nexus.HasUnitAttention && (flags & ScsiCommandFlags.IgnoresUnitAttention) == 0 && nexus.Take() is { } attention)
            {
                task.CompleteCheckCondition(attention);
                return;
            }
            // SBC-4 §4.11.2: while a sanitize operation runs, every command but INQUIRY, REPORT LUNS
            // and REQUEST SENSE is terminated with NOT READY, SANITIZE IN PROGRESS and the progress.
            if (unit.Sanitizing is { } sanitize && (flags & ScsiCommandFlags.IgnoresUnitAttention) == 0)
            {
                task.CompleteCheckCondition(SenseCodes.SanitizeInProgress, SenseKeySpecific.Progress(sanitize.Progress));
                return;
            }
        }
        switch (lookup)
        {
            case CommandLookup.UnknownOpcode:
                // SPC-4 §4.5.2.4.2: the field pointer names byte 0, the operation code.
                task.CompleteCheckCondition(SenseCodes.InvalidCommandOperationCode, SenseKeySpecific.Cdb(0));
                return;
            case CommandLookup.UnknownServiceAction:
                task.CompleteInvalidField(1, 4);
                return;
        }
        if (cdb.Length < command!.CdbLength)
        {
            task.CompleteInvalidField(0);
            return;
        }
        if (!command.CheckReservedBits(cdb, out var pointer))
        {
            task.CompleteCheckCondition(SenseCodes.InvalidFieldInCdb, pointer);
            return;
        }
        if (unit.ReservationHolder != 0 && ReserveReleaseCommands.Conflicts(unit, task.Srb.Nexus.Id, command))
        {
            task.CompleteStatus(ScsiStatus.ReservationConflict);
            return;
        }
        // SPC-4 §5.12.1, table 66: a persistent reservation held by others, per the command's access class.
        if (unit.Reservations.IsReserved && unit.Reservations.Conflicts(task.Srb.Nexus, command.Reservation))
        {
            task.CompleteStatus(ScsiStatus.ReservationConflict);
            return;
        }
        if ((flags & ScsiCommandFlags.NeedsMedium) != 0 && !unit.MediumPresent)
        {
            // SBC-4 §4.19 / MMC-6 §4.1.6: without medium (ejected by START STOP UNIT), medium access is NOT READY.
            task.CompleteCheckCondition(unit.TrayClosed ? SenseCodes.MediumNotPresentTrayClosed : SenseCodes.MediumNotPresentTrayOpen);
            return;
        }
        if (unit.SanitizeFailed && (flags & ScsiCommandFlags.NeedsMedium) != 0 && command.Opcode != ScsiOpcodes.Sanitize)
        {
            // SBC-4 §4.11.4: in sanitize failure mode medium access fails until a sanitize succeeds
            // or SANITIZE EXIT FAILURE MODE is allowed.
            task.CompleteCheckCondition(SenseCodes.SanitizeCommandFailed);
            return;
        }
        if ((flags & ScsiCommandFlags.Writes) != 0 && unit.WriteProtected)
        {
            task.CompleteCheckCondition(SenseCodes.WriteProtected);
            return;
        }
        command.Handler(task);
    }

    /// <summary>The miniport-specific requests (<see cref="ScsiDiskControl"/>).</summary>
    private void Control(Srb srb)
    {
        Span<byte> header = stackalloc byte[ScsiDiskControl.HeaderLength];
        int n = srb.Data.CopyTo(0, header);
        if (!ScsiDiskControl.TryReadRequest(header[..n], out uint code) || code != ScsiDiskControl.ItNexusLoss)
        {
            Complete(srb, SrbStatus.InvalidRequest);
            return;
        }
        if (_units.TryGetValue(srb.Address, out var unit)) unit.OnNexusLoss(srb.Nexus);
        header.Slice(ScsiDiskControl.ReturnCodeOffset, 4).Clear();
        srb.Data.CopyFrom(0, header[..n]);
        srb.DataTransferLength = n;
        Complete(srb, SrbStatus.Success);
    }

    // ------------------------------------------------------------------ resets and aborts

    /// <summary>
    /// LOGICAL UNIT RESET / target reset. Tasks whose block device call is still running cannot be
    /// recalled, so they are discarded: the port completes them with BUS_RESET when this reset
    /// completes (it claims every request still outstanding under the reset), and their late
    /// backend results are dropped. The miniport does not use
    /// <see cref="IPortServices.CompleteAllRequests"/> for them, because that also ends the
    /// miniport's hold on the SRB, and the backend may still be writing into its buffer.
    /// </summary>
    private void Reset(Srb srb, Func<DiskUnit, bool> scope)
    {
        // SAM-5 §6.3.3 / §7.6: every nexus learns of the reset by BUS DEVICE RESET FUNCTION OCCURRED.
        DiscardWhere(scope, SenseCodes.BusDeviceResetFunctionOccurred);
        Complete(srb, SrbStatus.Success);
    }

    /// <inheritdoc/>
    /// <remarks>Like a target reset for every target on the bus; see the remarks on resets in docs/scsi-disk.md.</remarks>
    public bool ResetBus(byte pathId)
    {
        DiscardWhere(u => u.Address.PathId == pathId, SenseCodes.BusReset);
        return true;
    }

    private void DiscardWhere(Func<DiskUnit, bool> scope, SenseCode attention)
    {
        var aborts = new List<Srb>();
        foreach (var unit in _units.Values)
        {
            if (!scope(unit)) continue;
            unit.DiscardAll(aborts);
            unit.OnReset(attention);
        }
        foreach (var abort in aborts) Complete(abort, SrbStatus.Success);
    }

    /// <summary>
    /// ABORT_COMMAND: a task still in flight is marked aborted; it completes with ABORTED when its
    /// backend call returns, and the abort request completes right after it (so FUNCTION COMPLETE
    /// means the task can no longer touch the medium). A task that is not in flight has already
    /// completed: the abort succeeds (SAM-5 §7.2).
    /// </summary>
    private void Abort(Srb abort)
    {
        if (abort.AbortTarget is { } target && _units.TryGetValue(target.Address, out var unit) && unit.TryAbort(target, abort)) return;
        Complete(abort, SrbStatus.Success);
    }
}
