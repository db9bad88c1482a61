using StorSharp.Port;

namespace StorSharp.Scsi;

/// <summary>Persistent reservation types (SPC-4 §6.16.2, table 225).</summary>
public enum PersistentReservationType : byte
{
    /// <summary>No reservation.</summary>
    None = 0,
    /// <summary>Write Exclusive: only the holder writes; everyone reads.</summary>
    WriteExclusive = 1,
    /// <summary>Exclusive Access: only the holder reads or writes.</summary>
    ExclusiveAccess = 3,
    /// <summary>Write Exclusive - Registrants Only: registered I_T nexuses write.</summary>
    WriteExclusiveRegistrantsOnly = 5,
    /// <summary>Exclusive Access - Registrants Only: registered I_T nexuses read and write.</summary>
    ExclusiveAccessRegistrantsOnly = 6,
    /// <summary>Write Exclusive - All Registrants: every registrant is a holder.</summary>
    WriteExclusiveAllRegistrants = 7,
    /// <summary>Exclusive Access - All Registrants: every registrant is a holder.</summary>
    ExclusiveAccessAllRegistrants = 8,
}

/// <summary>One registered I_T nexus (SPC-4 §5.12.7): the initiator port, the target port (null with ALL_TG_PT), and its key.</summary>
internal sealed class PrRegistration(string initiatorPort, string? targetPort, ushort relativeTargetPortId, ulong key)
{
    public string InitiatorPort { get; } = initiatorPort;

    /// <summary>The target port, or null when registered through every target port (ALL_TG_PT = 1).</summary>
    public string? TargetPort { get; } = targetPort;

    public ushort RelativeTargetPortId { get; } = relativeTargetPortId;

    public ulong Key { get; set; } = key;

    public bool Matches(string initiatorPort, string targetPort) =>
        string.Equals(InitiatorPort, initiatorPort, StringComparison.OrdinalIgnoreCase) &&
        (TargetPort is null || string.Equals(TargetPort, targetPort, StringComparison.OrdinalIgnoreCase));

    public bool Matches(InitiatorNexus nexus) => Matches(nexus.InitiatorPortName, nexus.TargetPortName);
}

/// <summary>
/// The persistent reservation state of one LU (SPC-4 §5.12): the registrations of I_T nexuses
/// with their reservation keys, at most one persistent reservation, and the PRgeneration counter.
/// Registrations are keyed by the I_T nexus's names (initiator port, target port), not by the
/// nexus object, so they survive I_T nexus loss and are found again when the same initiator port
/// logs in with the same ISID (SPC-4 §5.12.1). Nothing persists across a power loss: APTPL is
/// refused (REPORT CAPABILITIES says PTPL_C = 0).
/// </summary>
/// <remarks>All members run under one lock and never block; the state is tiny (a handful of registrants).</remarks>
internal sealed class PersistentReservations
{
    private readonly Lock _lock = new();
    private readonly List<PrRegistration> _registrations = [];
    private PrRegistration? _holder; // null for the all-registrants types (every registrant holds)
    private volatile bool _reserved;

    public Lock SyncRoot => _lock;

    /// <summary>True while a persistent reservation exists (read without the lock by dispatch).</summary>
    public bool IsReserved => _reserved;

    /// <summary>The PRgeneration (SPC-4 §6.16.2): bumped by every PERSISTENT RESERVE OUT that changes registrations.</summary>
    public uint Generation { get; private set; }

    public PersistentReservationType Type { get; private set; }

    public IReadOnlyList<PrRegistration> Registrations => _registrations;

    public PrRegistration? Holder => _holder;

    public static bool IsAllRegistrants(PersistentReservationType type) =>
        type is PersistentReservationType.WriteExclusiveAllRegistrants or PersistentReservationType.ExclusiveAccessAllRegistrants;

    public static bool IsRegistrantsType(PersistentReservationType type) =>
        type is >= PersistentReservationType.WriteExclusiveRegistrantsOnly and <= PersistentReservationType.ExclusiveAccessAllRegistrants;

    public static bool IsValidType(int type) => type is 1 or 3 or 5 or 6 or 7 or 8;

    public PrRegistration? Find(InitiatorNexus nexus)
    {
        foreach (var r in _registrations) if (r.Matches(nexus)) return r;
        return null;
    }

    /// <summary>True when <paramref name="registration"/> holds the reservation (every registrant does for the all-registrants types).</summary>
    public bool IsHolder(PrRegistration? registration) =>
        _reserved && registration is not null && (IsAllRegistrants(Type) || ReferenceEquals(_holder, registration));

    public void BumpGeneration() => Generation++;

    public void Add(PrRegistration registration) => _registrations.Add(registration);

    /// <summary>Creates the reservation; <paramref name="holder"/> is ignored for the all-registrants types.</summary>
    public void Reserve(PrRegistration holder, PersistentReservationType type)
    {
        Type = type;
        _holder = IsAllRegistrants(type) ? null : holder;
        _reserved = true;
    }

    public void ReleaseReservation()
    {
        _reserved = false;
        _holder = null;
        Type = PersistentReservationType.None;
    }

    /// <summary>
    /// Removes a registration. A holder that unregisters releases the reservation (SPC-4
    /// §5.12.11.2.3), except under an all-registrants type while other registrants remain.
    /// </summary>
    /// <returns>True when this released a registrants-only reservation: the remaining registrants get RESERVATIONS RELEASED.</returns>
    public bool Remove(PrRegistration registration)
    {
        _registrations.Remove(registration);
        if (!_reserved) return false;
        if (IsAllRegistrants(Type))
        {
            if (_registrations.Count == 0) ReleaseReservation();
            return false;
        }
        if (!ReferenceEquals(_holder, registration)) return false;
        bool registrantsOnly = Type is PersistentReservationType.WriteExclusiveRegistrantsOnly or PersistentReservationType.ExclusiveAccessRegistrantsOnly;
        ReleaseReservation();
        return registrantsOnly;
    }

    public void Clear()
    {
        _registrations.Clear();
        ReleaseReservation();
    }

    /// <summary>
    /// The conflict rule of SPC-4 §5.12.1 (table 66) for a command from <paramref name="nexus"/>
    /// while a persistent reservation exists. Commands marked <see cref="ReservationAccess.Allowed"/>
    /// never conflict; reads conflict only under the Exclusive Access types; anything that writes
    /// or changes the LU's state conflicts. The holder, and under the registrants-only and
    /// all-registrants types every registered nexus, is never in conflict.
    /// </summary>
    public bool Conflicts(InitiatorNexus nexus, ReservationAccess access)
    {
        if (access == ReservationAccess.Allowed) return false;
        lock (_lock)
        {
            if (!_reserved) return false;
            var registration = Find(nexus);
            if (IsHolder(registration)) return false;
            if (registration is not null && IsRegistrantsType(Type)) return false;
            bool exclusiveAccess = Type is PersistentReservationType.ExclusiveAccess or PersistentReservationType.ExclusiveAccessRegistrantsOnly
                or PersistentReservationType.ExclusiveAccessAllRegistrants;
            return access != ReservationAccess.Read || exclusiveAccess;
        }
    }
}
