using StorSharp.Port;

namespace StorSharp.Scsi;

/// <summary>How a command is treated when another I_T nexus holds a reservation (SPC-4 §5.9.1, table 46).</summary>
public enum ReservationAccess
{
    /// <summary>Never blocked by a reservation (INQUIRY, REPORT LUNS, REQUEST SENSE, PERSISTENT RESERVE IN ...).</summary>
    Allowed,
    /// <summary>Reads the medium: blocked by Exclusive Access reservations of others, allowed under Write Exclusive.</summary>
    Read,
    /// <summary>Changes the medium: blocked by any reservation the nexus does not hold or share.</summary>
    Write,
    /// <summary>Blocked by any reservation of another nexus (RESERVE, MODE SELECT and other state changes).</summary>
    Conflicts,
}

/// <summary>Properties of a command beyond its layout.</summary>
[Flags]
public enum ScsiCommandFlags
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>A pending unit attention does not stop this command (SAM-5 §5.14: INQUIRY, REPORT LUNS, REQUEST SENSE).</summary>
    IgnoresUnitAttention = 1 << 0,
    /// <summary>The command needs the medium: it fails with NOT READY while the unit is stopped or the medium is out.</summary>
    NeedsMedium = 1 << 1,
    /// <summary>The command may change the medium (refused on a write-protected LU with DATA PROTECT).</summary>
    Writes = 1 << 2,
    /// <summary>The command is answered for a LUN that does not exist on a target that does (INQUIRY, REPORT LUNS, REQUEST SENSE; SPC-4 §6.6.2).</summary>
    AnswersForAbsentUnit = 1 << 3,
}

/// <summary>Runs one command for one request.</summary>
internal delegate void ScsiCommandHandler(ScsiTask task);

/// <summary>
/// One row of a device type's opcode table: the command's operation code (and service action),
/// name, CDB length, data direction, CDB usage map, reservation and unit-attention rules, and its
/// handler. Dispatch, reserved-bit checks and REPORT SUPPORTED OPERATION CODES all read this row,
/// so they cannot disagree.
/// </summary>
public sealed class ScsiCommand
{
    private readonly byte[] _usage;

    internal ScsiCommand(byte opcode, byte? serviceAction, string name, DataDirection direction, byte[] usage,
        ReservationAccess reservation, ScsiCommandFlags flags, ScsiCommandHandler handler, uint timeoutSeconds = 30,
        Func<DiskUnit, bool>? availableOn = null)
    {
        AvailableOn = availableOn;
        if (usage.Length is not (6 or 10 or 12 or 16)) throw new ArgumentException($"{name}: a CDB usage map is 6, 10, 12 or 16 bytes.", nameof(usage));
        if (usage[0] != opcode) throw new ArgumentException($"{name}: the usage map must start with the opcode.", nameof(usage));
        if (serviceAction is { } sa && (usage[1] & 0x1F) != sa) throw new ArgumentException($"{name}: byte 1 of the usage map must carry the service action.", nameof(usage));
        Opcode = opcode;
        ServiceAction = serviceAction;
        Name = name;
        Direction = direction;
        _usage = usage;
        Reservation = reservation;
        Flags = flags;
        Handler = handler;
        TimeoutSeconds = timeoutSeconds;
    }

    /// <summary>The operation code.</summary>
    public byte Opcode { get; }

    /// <summary>The service action (bits 4-0 of CDB byte 1), or null when the opcode has none.</summary>
    public byte? ServiceAction { get; }

    /// <summary>The command's name in the standard, for example <c>READ(10)</c>.</summary>
    public string Name { get; }

    /// <summary>The CDB length in bytes.</summary>
    public int CdbLength => _usage.Length;

    /// <summary>Which way data moves.</summary>
    public DataDirection Direction { get; }

    /// <summary>
    /// The CDB usage data (SPC-4 §6.35.3): byte 0 is the opcode, byte 1 carries the service action
    /// when there is one, and every other bit set is a bit the device server looks at. A CDB with
    /// a bit set outside this map fails with INVALID FIELD IN CDB.
    /// </summary>
    public ReadOnlySpan<byte> UsageData => _usage;

    /// <summary>How a reservation held by another nexus affects the command.</summary>
    public ReservationAccess Reservation { get; }

    /// <summary>Unit attention, medium and write rules.</summary>
    public ScsiCommandFlags Flags { get; }

    /// <summary>The nominal command timeout reported in the command timeouts descriptor, in seconds.</summary>
    public uint TimeoutSeconds { get; }

    internal ScsiCommandHandler Handler { get; }

    /// <summary>When set, the command exists only on LUs for which this is true (UNMAP on thin LUs); elsewhere it is an unknown opcode, in dispatch and in REPORT SUPPORTED OPERATION CODES alike.</summary>
    internal Func<DiskUnit, bool>? AvailableOn { get; }

    internal bool IsAvailableOn(DiskUnit unit) => AvailableOn is null || !unit.Present || AvailableOn(unit);

    /// <summary>
    /// Checks <paramref name="cdb"/> against the usage map: every bit set must be one the command
    /// uses. In the control byte (the last) only the vendor-specific bits 7-6 are ignored, so
    /// NACA and LINK, which this device server does not support, are refused (SAM-5 §5.2).
    /// </summary>
    /// <returns>True when the CDB is valid; otherwise <paramref name="pointer"/> names the first bad byte and its highest bad bit.</returns>
    public bool CheckReservedBits(ReadOnlySpan<byte> cdb, out SenseKeySpecific pointer)
    {
        int last = _usage.Length - 1;
        for (int i = 1; i <= last; i++)
        {
            int bad = cdb[i] & ~_usage[i];
            if (i == 1 && ServiceAction is not null) bad &= ~0x1F;
            if (i == last) bad &= 0x3F;
            if (bad == 0) continue;
            pointer = SenseKeySpecific.Cdb(i, System.Numerics.BitOperations.Log2((uint)bad));
            return false;
        }
        pointer = default;
        return true;
    }

    /// <summary>The name and opcode.</summary>
    public override string ToString() => ServiceAction is { } sa ? $"{Name} ({Opcode:X2}h/{sa:X2}h)" : $"{Name} ({Opcode:X2}h)";
}
