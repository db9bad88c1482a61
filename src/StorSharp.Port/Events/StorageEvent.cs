namespace StorSharp.Port;

/// <summary>How serious an event is (the Windows event log levels).</summary>
public enum EventLevel
{
    /// <summary>Something worth knowing.</summary>
    Information = 4,
    /// <summary>Something went wrong and was recovered from (a retry, a reset).</summary>
    Warning = 3,
    /// <summary>Something failed.</summary>
    Error = 2,
}

/// <summary>
/// One entry of the event log. Ids and wording follow the Windows events storage admins search
/// for (see <see cref="StorageEventIds"/>).
/// </summary>
/// <param name="Id">The event id, for example 129.</param>
/// <param name="Time">When it happened, on the port's clock.</param>
/// <param name="Level">How serious it is.</param>
/// <param name="Source">Who logged it: the miniport's name for port events (as Windows shows the miniport), <c>disk</c> for class events.</param>
/// <param name="Device">The device, for example <c>\Device\RaidPort0</c>.</param>
/// <param name="Message">The text a person reads.</param>
/// <param name="Data">Structured values (address, SrbStatus, ScsiStatus, opcode, LBA...).</param>
public sealed record StorageEvent(
    int Id,
    DateTimeOffset Time,
    EventLevel Level,
    string Source,
    string Device,
    string Message,
    IReadOnlyDictionary<string, string> Data);

/// <summary>The event ids StorSharp logs.</summary>
public static class StorageEventIds
{
    /// <summary>The port timed out a request and reset the device: "Reset to device, \Device\RaidPortN, was issued." (Windows event 129.)</summary>
    public const int ResetToDevice = 129;

    /// <summary>The miniport timed out or failed a request and the class layer retried it. (Windows disk event 153.)</summary>
    public const int IoRetried = 153;

    /// <summary>The class layer gave up on a request after its retries. (Windows disk event 11, "controller error".)</summary>
    public const int ControllerError = 11;

    /// <summary>A logical unit's performance summary: latency histogram, bytes, maximum latencies, queue / busy / pause times. (Windows Storport event 505.)</summary>
    public const int PerformanceSummary = 505;

    /// <summary>The first failed request of a summary interval: opcode, SrbStatus, ScsiStatus, sense, latency. (Windows Storport event 549.)</summary>
    public const int FirstError = 549;

    /// <summary>A device is not ready for access. (Windows disk event 15.)</summary>
    public const int DeviceNotReady = 15;

    /// <summary>A miniport logged an error with LogError (Storport's StorPortLogError entries).</summary>
    public const int MiniportError = 1001;

    /// <summary>The miniport broke the port contract (completed a request twice, or one it never got).</summary>
    public const int ContractViolation = 1002;

    /// <summary>The adapter asked for more buses than the port allows.</summary>
    public const int TooManyBuses = 1003;

    /// <summary>An adapter started.</summary>
    public const int AdapterStarted = 1010;

    /// <summary>An adapter stopped.</summary>
    public const int AdapterStopped = 1011;

    /// <summary>The link went down (StorPortNotification LinkDown).</summary>
    public const int LinkDown = 1020;

    /// <summary>The link came back up.</summary>
    public const int LinkUp = 1021;

    /// <summary>Held I/O failed because the link stayed down past LinkDownTimeout.</summary>
    public const int LinkDownTimeout = 1022;

    /// <summary>A logical unit appeared.</summary>
    public const int LunAdded = 1030;

    /// <summary>A logical unit went away (orderly, after its requests drained, or by surprise removal).</summary>
    public const int LunRemoved = 1031;

    /// <summary>A logical unit's capacity changed (a LUN resized at run time).</summary>
    public const int LunResized = 1032;

    /// <summary>A logical unit reset was sent (Storport ETW event 1).</summary>
    public const int LunReset = 1040;

    /// <summary>A target reset was sent (Storport ETW event 2).</summary>
    public const int TargetReset = 1041;

    /// <summary>A bus reset was done (Storport ETW event 3).</summary>
    public const int BusReset = 1042;

    /// <summary>A reset level failed and the port escalated to the next.</summary>
    public const int ResetFailed = 1043;

    /// <summary>The queue depth of an LU changed (Storport ETW event 15).</summary>
    public const int QueueDepthSet = 1050;

    /// <summary>An LU (or the adapter) was paused by management (StorPortPauseDevice / StorPortPause).</summary>
    public const int DevicePaused = 1051;

    /// <summary>A paused LU (or the adapter) was resumed (StorPortResumeDevice / StorPortResume).</summary>
    public const int DeviceResumed = 1052;

    /// <summary>Fault injection rules were set on an LU.</summary>
    public const int FaultsSet = 1060;

    /// <summary>Fault injection was turned off on an LU.</summary>
    public const int FaultsCleared = 1061;

    /// <summary>Fault injection asked the front ends to drop every connection to an LU.</summary>
    public const int ConnectionsDropped = 1062;

    /// <summary>Fault injection took the adapter's link down for a while (LinkUp follows).</summary>
    public const int LinkDownInjected = 1063;

    /// <summary>A disc was put in a virtual CD/DVD drive by management and the tray closed (hosts get UNIT ATTENTION 28h/00h).</summary>
    public const int MediaInserted = 1070;

    /// <summary>A disc was taken out of a virtual CD/DVD drive by management (the tray is left open).</summary>
    public const int MediaEjected = 1071;

    /// <summary>A management eject was refused because a host prevents medium removal; the hosts were sent an eject request.</summary>
    public const int MediaEjectRefused = 1072;
}
