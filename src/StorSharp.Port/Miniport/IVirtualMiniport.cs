namespace StorSharp.Port;

/// <summary>
/// The routines every virtual miniport implements (Storport's required <c>HwStorXxx</c>
/// callbacks of <c>VIRTUAL_HW_INITIALIZATION_DATA</c>). The instance is the adapter's device
/// extension: keep per-adapter state in its fields.
/// </summary>
/// <remarks>
/// The port calls these in order: <see cref="FindAdapter"/>, <see cref="Initialize"/>,
/// <see cref="AdapterControl"/>(QuerySupportedControlTypes), then I/O through
/// <see cref="StartIo"/>. StartIo is called with no lock held and may be called concurrently
/// for different requests; complete each request exactly once with
/// <see cref="IPortServices.CompleteRequest"/>, inline or later from any thread.
/// Optional routines are separate interfaces: <see cref="IMiniportBuildIo"/>,
/// <see cref="IMiniportUnitControl"/>, <see cref="IMiniportServiceRequest"/>,
/// <see cref="IMiniportTracing"/>.
/// </remarks>
public interface IVirtualMiniport
{
    /// <summary>
    /// Stage 2 of initialisation (HwStorFindAdapter): describe the adapter by filling
    /// <paramref name="configuration"/>. Keep <paramref name="port"/> to call port services later.
    /// </summary>
    /// <param name="port">The port's services for this adapter.</param>
    /// <param name="configuration">The configuration to fill.</param>
    /// <param name="arguments">The free-form argument string given when the adapter was added.</param>
    FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments);

    /// <summary>Stage 3 (HwStorInitialize): the adapter is configured; get ready for I/O. Return false to fail the start.</summary>
    bool Initialize();

    /// <summary>
    /// Start one request (HwStorStartIo). Return true: the request is the miniport's until it
    /// completes it. Return false only if the request was not accepted; the port then completes it
    /// with <see cref="SrbStatus.Busy"/> and retries it later.
    /// </summary>
    bool StartIo(Srb srb);

    /// <summary>
    /// Reset a bus (HwStorResetBus). Every queue on the adapter is paused; complete every
    /// outstanding request on <paramref name="pathId"/> (for example with
    /// <see cref="IPortServices.CompleteAllRequests"/> and <see cref="SrbStatus.BusReset"/>)
    /// before returning true.
    /// </summary>
    bool ResetBus(byte pathId);

    /// <summary>An adapter-wide control request (HwStorAdapterControl).</summary>
    /// <param name="type">The request.</param>
    /// <param name="supported">For <see cref="AdapterControlType.QuerySupportedControlTypes"/>: set the entries the miniport supports.</param>
    ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported);

    /// <summary>Release everything the adapter holds (HwStorFreeAdapterResources); the last call.</summary>
    void FreeAdapterResources();
}

/// <summary>Optional (HwStorBuildIo): lock-free preparation of a request before it is queued.</summary>
public interface IMiniportBuildIo
{
    /// <summary>
    /// Prepare <paramref name="srb"/>; called concurrently with no lock held, before the port queues it.
    /// Return false when the miniport completed the request itself (for example a bad CDB).
    /// </summary>
    bool BuildIo(Srb srb);
}

/// <summary>Optional (HwStorUnitControl): per-LU control requests.</summary>
public interface IMiniportUnitControl
{
    /// <summary>A control request for the LU at <paramref name="address"/>.</summary>
    /// <param name="type">The request.</param>
    /// <param name="address">The LU.</param>
    /// <param name="supported">For <see cref="UnitControlType.QuerySupportedUnitControlTypes"/>: set the supported entries.</param>
    ControlStatus UnitControl(UnitControlType type, ScsiAddress address, ISet<UnitControlType> supported);
}

/// <summary>
/// Optional (HwStorProcessServiceRequest / StorPortCompleteServiceIrp): the management back
/// channel. Runs at "passive level": it may block, do file I/O, and create or remove devices.
/// </summary>
public interface IMiniportServiceRequest
{
    /// <summary>Handle one management request and return its answer (the completed service IRP).</summary>
    ValueTask<ServiceResponse> ProcessServiceRequestAsync(ServiceRequest request, CancellationToken cancellationToken);
}

/// <summary>Optional (HwStorInitializeTracing / HwStorCleanupTracing).</summary>
public interface IMiniportTracing
{
    /// <summary>Called once before FindAdapter: start the miniport's own tracing.</summary>
    void InitializeTracing(string adapterName);

    /// <summary>Called once after FreeAdapterResources: stop tracing.</summary>
    void CleanupTracing();
}

/// <summary>A management request for a miniport: an operation name and its arguments.</summary>
/// <param name="Operation">What to do, for example <c>add-lun</c>.</param>
/// <param name="Arguments">Named arguments.</param>
public sealed record ServiceRequest(string Operation, IReadOnlyDictionary<string, string> Arguments);

/// <summary>The miniport's answer to a <see cref="ServiceRequest"/>.</summary>
/// <param name="Success">True when the request was carried out.</param>
/// <param name="Message">What happened, in words a person reads.</param>
/// <param name="Data">Result values, if any.</param>
public sealed record ServiceResponse(bool Success, string Message, IReadOnlyDictionary<string, string>? Data = null);
