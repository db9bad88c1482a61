namespace StorSharp.Port;

/// <summary>
/// The port's services a miniport calls (Storport's <c>StorPortXxx</c> routines and
/// <c>StorPortNotification</c> types). One instance per adapter; every member is thread-safe.
/// </summary>
public interface IPortServices
{
    /// <summary>The adapter's name as events show it, for example <c>RaidPort0</c>.</summary>
    string AdapterName { get; }

    /// <summary>The clock every timer of this adapter runs on.</summary>
    TimeProvider Time { get; }

    /// <summary>
    /// Hands a finished request back to the port (StorPortNotification RequestComplete). Call
    /// exactly once per request the miniport accepted. Completing a request twice, or one the
    /// miniport never got, is a contract violation: the port logs it and ignores the call.
    /// </summary>
    void CompleteRequest(Srb srb);

    /// <summary>
    /// Completes every outstanding request that matches the address with <paramref name="status"/>
    /// (StorPortCompleteRequest); <see cref="ScsiAddress.Wildcard"/> matches any value. The miniport
    /// must not complete those requests again.
    /// </summary>
    void CompleteAllRequests(ScsiAddress address, SrbStatus status);

    /// <summary>Holds all new I/O on the adapter for <paramref name="timeout"/> or until <see cref="Resume"/> (StorPortPause).</summary>
    void Pause(TimeSpan timeout);

    /// <summary>Ends a <see cref="Pause"/> (StorPortResume).</summary>
    void Resume();

    /// <summary>Holds new I/O to one LU for <paramref name="timeout"/> or until <see cref="ResumeDevice"/> (StorPortPauseDevice).</summary>
    void PauseDevice(ScsiAddress address, TimeSpan timeout);

    /// <summary>Ends a <see cref="PauseDevice"/> (StorPortResumeDevice).</summary>
    void ResumeDevice(ScsiAddress address);

    /// <summary>Holds new I/O on the adapter until <paramref name="requestsToComplete"/> outstanding requests complete (StorPortBusy).</summary>
    void Busy(int requestsToComplete);

    /// <summary>Ends a <see cref="Busy"/> early (StorPortReady).</summary>
    void Ready();

    /// <summary>Holds new I/O to one LU until <paramref name="requestsToComplete"/> of its requests complete (StorPortDeviceBusy).</summary>
    void DeviceBusy(ScsiAddress address, int requestsToComplete);

    /// <summary>Ends a <see cref="DeviceBusy"/> early (StorPortDeviceReady).</summary>
    void DeviceReady(ScsiAddress address);

    /// <summary>Sets how many requests the LU may have outstanding, 1 to 255 (StorPortSetDeviceQueueDepth).</summary>
    /// <returns>False when the LU does not exist or the depth is out of range.</returns>
    bool SetDeviceQueueDepth(ScsiAddress address, int depth);

    /// <summary>The link to the storage is down: hold I/O up to LinkDownTimeout, then fail it (StorPortNotification LinkDown).</summary>
    void LinkDown();

    /// <summary>The link is back: release held I/O (StorPortNotification LinkUp).</summary>
    void LinkUp();

    /// <summary>LUs appeared or went away on a bus: the port enumerates it again (StorPortNotification BusChangeDetected).</summary>
    void BusChangeDetected(byte pathId);

    /// <summary>The miniport reset a bus on its own (StorPortNotification ResetDetected).</summary>
    void ResetDetected(byte pathId);

    /// <summary>Calls <paramref name="callback"/> once after <paramref name="delay"/> on the port's clock (StorPortNotification RequestTimerCall).</summary>
    /// <returns>A handle that cancels the call when disposed.</returns>
    IDisposable RequestTimer(Action callback, TimeSpan delay);

    /// <summary>Writes an error to the event log (StorPortLogError).</summary>
    /// <param name="srb">The request involved, if any.</param>
    /// <param name="address">The LU involved.</param>
    /// <param name="code">The error code (SP_* values).</param>
    /// <param name="uniqueId">A value the miniport chooses to tell its call sites apart.</param>
    void LogError(Srb? srb, ScsiAddress address, PortErrorCode code, uint uniqueId);

    /// <summary>The LU's miniport scratch object (Storport's LU extension); null when no such LU.</summary>
    LogicalUnit? GetLogicalUnit(ScsiAddress address);
}

/// <summary>Error codes for <see cref="IPortServices.LogError"/> (Storport <c>SP_*</c>); values match.</summary>
public enum PortErrorCode : uint
{
    /// <summary>SP_BUS_PARITY_ERROR.</summary>
    BusParityError = 1,
    /// <summary>SP_UNEXPECTED_DISCONNECT.</summary>
    UnexpectedDisconnect = 2,
    /// <summary>SP_INVALID_RESELECTION.</summary>
    InvalidReselection = 3,
    /// <summary>SP_BUS_TIME_OUT.</summary>
    BusTimeOut = 4,
    /// <summary>SP_PROTOCOL_ERROR.</summary>
    ProtocolError = 5,
    /// <summary>SP_INTERNAL_ADAPTER_ERROR.</summary>
    InternalAdapterError = 6,
    /// <summary>SP_REQUEST_TIMEOUT.</summary>
    RequestTimeout = 7,
    /// <summary>SP_IRQ_NOT_RESPONDING.</summary>
    IrqNotResponding = 8,
    /// <summary>SP_BAD_FW_WARNING.</summary>
    BadFirmwareWarning = 9,
    /// <summary>SP_BAD_FW_ERROR.</summary>
    BadFirmwareError = 10,
    /// <summary>SP_LOST_WMI_MINIPORT_REQUEST.</summary>
    LostWmiMiniportRequest = 11,
}
