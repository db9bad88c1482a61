using StorSharp.Port;

namespace StorSharp.Class;

/// <summary>How a <see cref="LunBlockDevice"/> talks to its LU.</summary>
public sealed record LunBlockDeviceOptions
{
    /// <summary>The I_T nexus the requests carry (reservations are per nexus); <see cref="InitiatorNexus.Local"/> by default.</summary>
    public InitiatorNexus Nexus { get; init; } = InitiatorNexus.Local;

    /// <summary>
    /// How many times a request that failed transiently (UNIT ATTENTION, ABORTED COMMAND, a timeout
    /// or a reset) is retried; null takes the LU's <see cref="PortTunables.ClassRetryCount"/> (disk.sys: 4).
    /// </summary>
    public int? RetryCount { get; init; }

    /// <summary>The pause before a retry after a timeout or reset; null takes the LU's <see cref="PortTunables.ClassRetryInterval"/> (1 s).</summary>
    public TimeSpan? RetryInterval { get; init; }

    /// <summary>
    /// The most bytes one WRITE SAME may cover when the LU reports no limit in VPD B0h, so one
    /// zeroing request cannot run into the port's timeout.
    /// </summary>
    public long DefaultMaximumWriteSameBytes { get; init; } = 256L * 1024 * 1024;
}
