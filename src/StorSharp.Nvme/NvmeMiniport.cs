using System.Collections.Frozen;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Nvme;

/// <summary>How the miniport moved the data of its READ and WRITE requests (counters since the adapter started).</summary>
public sealed class NvmeTransferStatistics
{
    internal long _direct, _split, _splitCommands, _bounced;

    /// <summary>Transfers whose scatter/gather list had a PRP form: one NVMe command straight on the request's buffers.</summary>
    public long Direct => Interlocked.Read(ref _direct);

    /// <summary>Transfers split into several PRP-able NVMe commands at sub-page element boundaries.</summary>
    public long Split => Interlocked.Read(ref _split);

    /// <summary>NVMe commands issued for split transfers.</summary>
    public long SplitCommands => Interlocked.Read(ref _splitCommands);

    /// <summary>Transfers copied through a page-aligned bounce buffer.</summary>
    public long Bounced => Interlocked.Read(ref _bounced);
}

/// <summary>
/// A virtual miniport whose device is an NVMe controller (<see cref="NvmeController"/>): the
/// StorSharp counterpart of Windows' stornvme. Front ends send SCSI CDBs; the miniport translates
/// them into NVMe commands (the SCSI-to-NVMe translation) and the port's scatter/gather lists into
/// PRPs (<see cref="PrpBuilder"/>). A list with no PRP form is split or bounced
/// (<see cref="NvmeMiniportOptions.Fallback"/>), never asserted on. Reports
/// <see cref="StorageBusType.Nvme"/>.
/// </summary>
/// <example>
/// <code>
/// var adapter = await port.AddAdapterAsync(NvmeMiniport.CreateRegistration(
///     [new NvmeNamespaceDefinition(new ScsiAddress(0, 0, 0), ramDisk)]));
/// </code>
/// </example>
public sealed class NvmeMiniport : IVirtualMiniport, IMiniportUnitControl
{
    private readonly FrozenDictionary<ScsiAddress, NvmeUnit> _units;
    private readonly FrozenDictionary<(byte Bus, byte Target), byte[]> _targets;
    private readonly object _poolLock = new();
    private readonly Stack<NvmeRequest> _requests = new();
    private IPortServices? _port;

    /// <summary>Creates the miniport for one adapter: one controller whose namespaces are <paramref name="namespaces"/> (NSID = position + 1).</summary>
    /// <exception cref="ArgumentException">Two namespaces share an address, or an option or device is out of range.</exception>
    public NvmeMiniport(IEnumerable<NvmeNamespaceDefinition> namespaces, NvmeMiniportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(namespaces);
        Options = options ?? new NvmeMiniportOptions();
        if (Options.MaximumTransferLength < Options.PageSize || Options.MaximumTransferLength > 32 * 1024 * 1024)
            throw new ArgumentException($"MaximumTransferLength {Options.MaximumTransferLength} must be from one page ({Options.PageSize}) to 32 MiB.", nameof(options));
        if (Options.NumberOfPhysicalBreaks < 1) throw new ArgumentException("NumberOfPhysicalBreaks must be at least 1.", nameof(options));
        Memory = new HostMemory(Options.PageSize);
        Pages = new PrpPagePool(Memory);
        var units = new Dictionary<ScsiAddress, NvmeUnit>();
        uint nsid = 0;
        foreach (var d in namespaces)
        {
            ArgumentNullException.ThrowIfNull(d);
            if (d.Address.PathId == ScsiAddress.Wildcard || d.Address.TargetId == ScsiAddress.Wildcard || d.Address.Lun == ScsiAddress.Wildcard)
                throw new ArgumentException($"The address {d.Address} uses the wildcard value 255.", nameof(namespaces));
            var ns = new NvmeNamespace(++nsid, d.Device, d.ReadOnly, d.Eui64);
            if (!units.TryAdd(d.Address, new NvmeUnit(d, ns))) throw new ArgumentException($"Two namespaces are defined at {d.Address}.", nameof(namespaces));
        }
        _units = units.ToFrozenDictionary();
        _targets = units.Keys.GroupBy(a => (a.PathId, a.TargetId)).ToFrozenDictionary(g => g.Key, g => g.Select(a => a.Lun).Order().ToArray());
        Controller = new NvmeController(Memory, units.Values.Select(u => u.Namespace), Options.MaximumTransferLength);
    }

    /// <summary>Makes the registration record for <see cref="StoragePort.AddAdapterAsync"/>: every adapter it creates serves <paramref name="namespaces"/>.</summary>
    /// <param name="namespaces">The namespaces and their addresses.</param>
    /// <param name="options">Adapter-wide settings.</param>
    /// <param name="name">The miniport's name in events and listings.</param>
    public static VirtualMiniportRegistration CreateRegistration(IEnumerable<NvmeNamespaceDefinition> namespaces, NvmeMiniportOptions? options = null, string name = "Nvme")
    {
        var list = namespaces.ToArray();
        _ = new NvmeMiniport(list, options); // validate now, not when the port calls back
        return new VirtualMiniportRegistration
        {
            Name = name,
            CreateMiniport = () => new NvmeMiniport(list, options),
            TaggedQueuing = true,
            MultipleRequestPerLu = true,
            AutoRequestSense = true,
            DeviceId = "NVMe",
        };
    }

    /// <summary>The settings.</summary>
    public NvmeMiniportOptions Options { get; }

    /// <summary>The simulated host memory the request buffers are mapped into for the controller.</summary>
    public HostMemory Memory { get; }

    /// <summary>The pool of PRP list pages (and Dataset Management range pages).</summary>
    public PrpPagePool Pages { get; }

    /// <summary>The device: an NVMe controller with one namespace per LU.</summary>
    public NvmeController Controller { get; }

    /// <summary>How READ and WRITE data went to the controller: straight, split or bounced.</summary>
    public NvmeTransferStatistics Statistics { get; } = new();

    internal IPortServices Port => _port ?? throw new InvalidOperationException("FindAdapter has not run.");

    internal ReadOnlySpan<byte> LunsOf(byte bus, byte target) => _targets.TryGetValue((bus, target), out var luns) ? luns : [];

    // ------------------------------------------------------------------ initialisation

    /// <inheritdoc/>
    public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments)
    {
        _port = port;
        configuration.Cover(_units.Keys);
        configuration.MaximumTransferLength = Options.MaximumTransferLength;
        configuration.NumberOfPhysicalBreaks = Options.NumberOfPhysicalBreaks;
        configuration.DefaultQueueDepth = Options.DefaultQueueDepth;
        configuration.BusType = StorageBusType.Nvme;
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
                return ControlStatus.Success;
            case UnitControlType.Start:
            case UnitControlType.Remove:
                return _units.ContainsKey(address) ? ControlStatus.Success : ControlStatus.Unsuccessful;
            default:
                return ControlStatus.Unsuccessful;
        }
    }

    /// <inheritdoc/>
    public void FreeAdapterResources() { }

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
                if (_units.TryGetValue(srb.Address, out var unit)) RentRequest().StartFlush(srb, unit);
                else Complete(srb, SrbStatus.NoDevice);
                break;
            case SrbFunction.ResetLogicalUnit:
            case SrbFunction.ResetDevice:
                // Commands already at the controller cannot be recalled; the port completes what
                // is still outstanding after the reset with BUS_RESET, and their late completions
                // are let go (the SRB returns to the pool only then). Every nexus learns of the
                // reset by BUS DEVICE RESET FUNCTION OCCURRED (SAM-5 §6.3.3, §7.6).
                EstablishAttention(srb.Address, srb.Function == SrbFunction.ResetLogicalUnit ? ResetScope.LogicalUnit : ResetScope.Target, SenseCodes.BusDeviceResetFunctionOccurred);
                Complete(srb, SrbStatus.Success);
                break;
            case SrbFunction.AbortCommand:
                // An abort that finds nothing running has nothing to do (SAM-5 §7.2).
                Complete(srb, SrbStatus.Success);
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

    /// <inheritdoc/>
    /// <remarks>As for the LU reset: the port completes every request still outstanding on the bus with BUS_RESET; every nexus gets SCSI BUS RESET OCCURRED.</remarks>
    public bool ResetBus(byte pathId)
    {
        EstablishAttention(new ScsiAddress(pathId, 0, 0), ResetScope.Bus, SenseCodes.BusReset);
        return true;
    }

    private enum ResetScope { LogicalUnit, Target, Bus }

    private void EstablishAttention(ScsiAddress address, ResetScope scope, SenseCode code)
    {
        foreach (var (a, unit) in _units)
        {
            bool hit = scope switch
            {
                ResetScope.LogicalUnit => a == address,
                ResetScope.Target => a.PathId == address.PathId && a.TargetId == address.TargetId,
                _ => a.PathId == address.PathId,
            };
            if (hit) unit.Attentions.EstablishForAll(code);
        }
    }

    /// <summary>
    /// The miniport-specific requests the front ends send (<see cref="ScsiDiskControl"/>, as to the
    /// SCSI disk): I_T NEXUS LOSS forgets the nexus's unit attentions.
    /// </summary>
    private void Control(Srb srb)
    {
        const int ReturnCodeOffset = 20; // SRB_IO_CONTROL.ReturnCode
        Span<byte> header = stackalloc byte[ScsiDiskControl.HeaderLength];
        int n = srb.Data.CopyTo(0, header);
        if (!ScsiDiskControl.TryReadRequest(header[..n], out uint code) || code != ScsiDiskControl.ItNexusLoss)
        {
            Complete(srb, SrbStatus.InvalidRequest);
            return;
        }
        if (_units.TryGetValue(srb.Address, out var unit)) unit.Attentions.Forget(srb.Nexus.Id);
        header.Slice(ReturnCodeOffset, 4).Clear();
        srb.Data.CopyFrom(0, header[..n]);
        srb.DataTransferLength = n;
        Complete(srb, SrbStatus.Success);
    }

    private void Execute(Srb srb)
    {
        var address = srb.Address;
        _units.TryGetValue(address, out var unit);
        if (unit is null && !_targets.ContainsKey((address.PathId, address.TargetId)))
        {
            Complete(srb, SrbStatus.SelectionTimeout); // no target here: the port's scan skips it
            return;
        }
        if (srb.CdbLength == 0)
        {
            Complete(srb, SrbStatus.InvalidRequest);
            return;
        }
        try
        {
            ScsiTranslation.Execute(this, unit, srb);
        }
        catch (Exception)
        {
            // A translation bug must not hang the request: HARDWARE ERROR, INTERNAL TARGET FAILURE.
            CompleteCheckCondition(srb, SenseCodes.InternalTargetFailure);
        }
    }

    internal NvmeRequest RentRequest()
    {
        lock (_poolLock)
        {
            if (_requests.TryPop(out var request)) return request;
        }
        return new NvmeRequest(this);
    }

    internal void ReturnRequest(NvmeRequest request)
    {
        lock (_poolLock) _requests.Push(request);
    }

    // ------------------------------------------------------------------ completion helpers

    internal void Complete(Srb srb, SrbStatus status)
    {
        srb.Status = status;
        Port.CompleteRequest(srb);
    }

    /// <summary>GOOD, with the residual rule applied to <paramref name="commandBytes"/>.</summary>
    internal void CompleteGood(Srb srb, long commandBytes)
    {
        SrbResult.SetTransfer(srb, BufferLength(srb), commandBytes);
        Port.CompleteRequest(srb);
    }

    /// <summary>GOOD with data-in, capped by the allocation length and the buffer.</summary>
    internal void CompleteDataIn(Srb srb, ReadOnlySpan<byte> data, long allocationLength)
    {
        SrbResult.SetDataIn(srb, BufferLength(srb), data, allocationLength);
        Port.CompleteRequest(srb);
    }

    /// <summary>CHECK CONDITION with fixed-format sense.</summary>
    internal void CompleteCheckCondition(Srb srb, SenseCode code, SenseKeySpecific specific = default)
    {
        Span<byte> sense = stackalloc byte[SenseData.FixedLength];
        SenseData.WriteFixed(sense, code, specific);
        SrbResult.SetCheckCondition(srb, sense);
        Port.CompleteRequest(srb);
    }

    /// <summary>The SRB completed with a failed NVMe status, translated to sense.</summary>
    internal void CompleteNvmeError(Srb srb, NvmeStatus status) => CompleteCheckCondition(srb, NvmeStatusTranslation.ToSense(status));

    /// <summary>The room the submitter gave for data: <c>min(DataTransferLength, Data.Length)</c>.</summary>
    internal static int BufferLength(Srb srb) => (int)Math.Min(Math.Max(srb.DataTransferLength, 0), srb.Data.Length);
}
