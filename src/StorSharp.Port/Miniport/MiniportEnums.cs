namespace StorSharp.Port;

/// <summary>What <see cref="IVirtualMiniport.FindAdapter"/> found (Storport <c>SP_RETURN_*</c>).</summary>
public enum FindAdapterResult
{
    /// <summary>The adapter is there and configured (SP_RETURN_FOUND).</summary>
    Found = 1,
    /// <summary>No adapter (SP_RETURN_NOT_FOUND).</summary>
    NotFound = 0,
    /// <summary>An error (SP_RETURN_ERROR).</summary>
    Error = 2,
    /// <summary>The configuration is wrong (SP_RETURN_BAD_CONFIG).</summary>
    BadConfig = 3,
}

/// <summary>The adapter-wide control requests (Storport <c>SCSI_ADAPTER_CONTROL_TYPE</c>).</summary>
public enum AdapterControlType
{
    /// <summary>Which of these the miniport supports; asked before the first I/O.</summary>
    QuerySupportedControlTypes = 0,
    /// <summary>Stop the adapter; the port has drained and flushed it first.</summary>
    StopAdapter = 1,
    /// <summary>Restart a stopped adapter; if unsupported the port runs FindAdapter and Initialize again.</summary>
    RestartAdapter = 2,
    /// <summary>Re-apply the running configuration (after a power transition).</summary>
    SetRunningConfig = 4,
    /// <summary>The adapter is gone without warning.</summary>
    SurpriseRemoval = 6,
}

/// <summary>The answer to an adapter or unit control request (Storport <c>SCSI_ADAPTER_CONTROL_STATUS</c>).</summary>
public enum ControlStatus
{
    /// <summary>Done (ScsiAdapterControlSuccess).</summary>
    Success = 0,
    /// <summary>Not done or not supported (ScsiAdapterControlUnsuccessful).</summary>
    Unsuccessful = 1,
}

/// <summary>The per-LU control requests (Storport <c>STOR_UNIT_CONTROL_TYPE</c>).</summary>
public enum UnitControlType
{
    /// <summary>Which of these the miniport supports.</summary>
    QuerySupportedUnitControlTypes = 0,
    /// <summary>The LU has been found and is starting.</summary>
    Start = 1,
    /// <summary>The LU is being removed after its I/O drained.</summary>
    Remove = 3,
    /// <summary>The LU is gone without warning; outstanding I/O has been failed.</summary>
    SurpriseRemoval = 4,
}
