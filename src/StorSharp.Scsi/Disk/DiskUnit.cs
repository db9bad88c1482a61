using System.Security.Cryptography;
using System.Text;
using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Scsi;

/// <summary>
/// The miniport's state for one logical unit: its definition and identity, the tasks it has in
/// flight (for aborts and resets), a pool of task objects, and per-nexus pending sense.
/// One lock guards the in-flight list, the pool and the nexus table; it is never held across a
/// call into the block device or the port.
/// </summary>
internal sealed class DiskUnit
{
    private readonly Lock _lock = new();
    private ScsiTask? _inFlight;
    private ScsiTask[] _pool = new ScsiTask[8];
    private int _poolCount;

    /// <summary>A unit for a defined LU.</summary>
    public DiskUnit(ScsiDiskMiniport miniport, ScsiDiskDefinition definition, ScsiDiskMiniportOptions options)
    {
        Miniport = miniport;
        Definition = definition;
        Address = definition.Address;
        Device = definition.Device;
        Present = true;
        SerialNumber = definition.SerialNumber ?? DeriveSerial(definition);
        NaaIdentifier = definition.NaaIdentifier ?? DeriveNaa(definition.VendorId, SerialNumber);
        if (NaaIdentifier.Length is not (8 or 16))
            throw new ArgumentException($"The NAA identifier of {Address} is {NaaIdentifier.Length} bytes; it must be 8 or 16.");
        Mode = new ModeParameters(options.DescriptorSense);
        Nexuses = new NexusTable(options.PowerOnUnitAttention);
        DeviceState = miniport.Model.AttachUnit?.Invoke(this);
    }

    /// <summary>State the device type keeps for this LU (<see cref="ScsiDeviceModel.AttachUnit"/>); null for a disk.</summary>
    public object? DeviceState { get; }

    /// <summary>A stand-in for a LUN that is not defined on a target that exists (SPC-4 §6.6.2: peripheral qualifier 011b).</summary>
    public DiskUnit(ScsiDiskMiniport miniport, ScsiAddress address)
    {
        Miniport = miniport;
        Address = address;
        Present = false;
        SerialNumber = "";
        NaaIdentifier = [];
        Mode = new ModeParameters(false);
        Nexuses = new NexusTable(false);
    }

    public ScsiDiskMiniport Miniport { get; }

    public ScsiAddress Address { get; }

    /// <summary>False for the stand-in of an undefined LUN.</summary>
    public bool Present { get; }

    public ScsiDiskDefinition? Definition { get; }

    public IBlockDevice? Device { get; }

    public string SerialNumber { get; }

    public byte[] NaaIdentifier { get; }

    /// <summary>The mode pages' current values (caching, control, informational exceptions).</summary>
    public ModeParameters Mode { get; }

    /// <summary>Per-nexus state: unit attentions, pending sense.</summary>
    public NexusTable Nexuses { get; }

    /// <summary>D_SENSE: build descriptor-format sense.</summary>
    public bool DescriptorSense => Mode.DescriptorSense;

    /// <summary>Writes are refused: the definition says so, the device cannot write, or SWP is set in the control mode page.</summary>
    public bool WriteProtected => Definition!.ReadOnly || (Device!.Capabilities & BlockDeviceCapabilities.ReadOnly) != 0 || Mode.SoftwareWriteProtect;

    /// <summary>The "hardware" write protection, which MODE SENSE reports as WP and MODE SELECT cannot lift.</summary>
    public bool MediumWriteProtected => Definition!.ReadOnly || (Device!.Capabilities & BlockDeviceCapabilities.ReadOnly) != 0;

    /// <summary>Thin provisioned (LBPME).</summary>
    public bool ThinProvisioned => (Device!.Capabilities & BlockDeviceCapabilities.ThinProvisioned) != 0;

    // ------------------------------------------------------------------ tasks

    /// <summary>Takes a task object from the pool and links it into the in-flight list.</summary>
    public ScsiTask Begin(Srb srb)
    {
        ScsiTask task;
        lock (_lock)
        {
            task = _poolCount > 0 ? _pool[--_poolCount] : new ScsiTask();
            task.Next = _inFlight;
            task.Prev = null;
            if (_inFlight is not null) _inFlight.Prev = task;
            _inFlight = task;
        }
        task.Start(this, srb);
        return task;
    }

    /// <summary>Unlinks a finished task and returns it to the pool.</summary>
    public void End(ScsiTask task)
    {
        lock (_lock)
        {
            if (task.Prev is not null) task.Prev.Next = task.Next; else _inFlight = task.Next;
            if (task.Next is not null) task.Next.Prev = task.Prev;
            task.Next = task.Prev = null;
            if (_poolCount == _pool.Length) Array.Resize(ref _pool, _pool.Length * 2);
            _pool[_poolCount++] = task;
        }
    }

    /// <summary>
    /// A reset covers this unit: every task in flight is discarded (its late completion reports
    /// BUS_RESET and touches nothing else). Abort requests waiting on those tasks are collected
    /// into <paramref name="abortsToComplete"/>: the reset ended their tasks.
    /// </summary>
    public void DiscardAll(List<Srb> abortsToComplete)
    {
        lock (_lock)
        {
            for (var t = _inFlight; t is not null; t = t.Next)
                if (t.TryDiscard() is { } abort) abortsToComplete.Add(abort);
        }
    }

    /// <summary>
    /// After a reset: unit attention for every nexus; mode parameters back to their defaults
    /// (SAM-5 §6.3.3: a reset restores current values from the saved or default ones).
    /// </summary>
    public void OnReset(SenseCode attention)
    {
        Mode.CopyFrom(ModeParameters.Defaults(Miniport.Options.DescriptorSense));
        lock (_lock) _preventing.Clear(); // SBC-4 §5.18: a reset ends every prevention
        Interlocked.Exchange(ref _reservationHolder, 0); // SPC-2 §5.5.1: a reset releases RESERVE reservations
        foreach (var n in Nexuses.All) lock (n.Copies) n.Copies.Clear(); // SPC-4 §6.18.1: a reset discards held copy results
        Nexuses.AddToAll(attention);
    }

    /// <summary>
    /// I_T nexus loss (SAM-5 §6.3.4, <see cref="ScsiDiskControl.ItNexusLoss"/>): the nexus's RESERVE
    /// is released (SPC-2 §5.5.1), its medium removal prevention ends (SBC-4 §5.18), and its state
    /// (unit attentions, pending sense) is forgotten; a front end never reuses a lost nexus object.
    /// Persistent reservations are kept (SPC-4 §5.12.1).
    /// </summary>
    public void OnNexusLoss(InitiatorNexus nexus)
    {
        if (!Present) return;
        Release(nexus.Id);
        SetRemovalPrevented(nexus.Id, false);
        Nexuses.Remove(nexus.Id);
    }

    /// <summary>EXTENDED COPY commands running on this LU's copy manager (at most <see cref="ExtendedCopyCommands.MaxConcurrentCopies"/>).</summary>
    public int ActiveCopies;

    /// <summary>Marks the task running <paramref name="target"/> as aborted; false when no such task is in flight.</summary>
    public bool TryAbort(Srb target, Srb abort)
    {
        lock (_lock)
        {
            for (var t = _inFlight; t is not null; t = t.Next)
                if (ReferenceEquals(t.Srb, target)) return t.TryMarkAborted(abort);
        }
        return false;
    }

    /// <summary>False after START STOP UNIT ejected the medium of a removable LU.</summary>
    public volatile bool MediumPresent = true;

    /// <summary>With no medium: true when the tray (or door) is closed, so NOT READY reports MEDIUM NOT PRESENT - TRAY CLOSED rather than TRAY OPEN.</summary>
    public volatile bool TrayClosed;

    private readonly HashSet<long> _preventing = [];

    /// <summary>True while some I_T nexus prevents medium removal (PREVENT ALLOW MEDIUM REMOVAL).</summary>
    public bool IsRemovalPrevented { get { lock (_lock) return _preventing.Count > 0; } }

    /// <summary>Records a nexus's PREVENT (true) or ALLOW (false); removal is prevented while any nexus prevents it (SBC-4 §5.18).</summary>
    public void SetRemovalPrevented(long nexusId, bool prevent)
    {
        lock (_lock)
        {
            if (prevent) _preventing.Add(nexusId); else _preventing.Remove(nexusId);
        }
    }

    private long _reservationHolder;

    /// <summary>The nexus id holding a RESERVE(6)/(10) reservation, 0 for none.</summary>
    public long ReservationHolder => Interlocked.Read(ref _reservationHolder);

    /// <summary>Reserves the LU for <paramref name="nexusId"/>; false when another nexus holds it.</summary>
    public bool TryReserve(long nexusId)
    {
        long previous = Interlocked.CompareExchange(ref _reservationHolder, nexusId, 0);
        return previous == 0 || previous == nexusId;
    }

    /// <summary>Releases the reservation if <paramref name="nexusId"/> holds it (SPC-2 §7.21: otherwise a no-op).</summary>
    public void Release(long nexusId) => Interlocked.CompareExchange(ref _reservationHolder, 0, nexusId);

    /// <summary>Persistent reservations and registrations (SPC-4 §5.12).</summary>
    public PersistentReservations Reservations { get; } = new();

    /// <summary>Range locks for the read-modify-write commands.</summary>
    public RangeLock Ranges { get; } = new();

    /// <summary>True when a task other than <paramref name="except"/> has a plain WRITE in flight that overlaps [start, end).</summary>
    public bool HasOverlappingWrite(ScsiTask? except, long start, long end)
    {
        lock (_lock)
        {
            for (var t = _inFlight; t is not null; t = t.Next)
                if (!ReferenceEquals(t, except) && t.WriteOverlaps(start, end)) return true;
        }
        return false;
    }

    // ------------------------------------------------------------------ sanitize (SBC-4 §4.11)

    private SanitizeOperation? _sanitize;

    /// <summary>The sanitize operation in progress, or null. It belongs to the LU, not to the SANITIZE task: resets, aborts and I_T nexus loss do not stop it (SBC-4 §4.11.2).</summary>
    public SanitizeOperation? Sanitizing => Volatile.Read(ref _sanitize);

    /// <summary>Starts <paramref name="operation"/>; false when another sanitize operation is in progress.</summary>
    public bool TryBeginSanitize(SanitizeOperation operation) => Interlocked.CompareExchange(ref _sanitize, operation, null) is null;

    /// <summary>Ends the operation in progress: a failure enters sanitize failure mode (SBC-4 §4.11.4), a success leaves it.</summary>
    public void EndSanitize(SanitizeOperation operation, bool failed)
    {
        if (failed) { SanitizeFailureAllowsExit = operation.AllowUnrestrictedExit; SanitizeFailed = true; }
        else SanitizeFailed = false;
        Interlocked.CompareExchange(ref _sanitize, null, operation);
    }

    /// <summary>Sanitize failure mode: medium access fails with SANITIZE COMMAND FAILED until a sanitize succeeds or EXIT FAILURE MODE is allowed.</summary>
    public volatile bool SanitizeFailed;

    /// <summary>The failed operation had AUSE = 1, so SANITIZE EXIT FAILURE MODE may end failure mode.</summary>
    public volatile bool SanitizeFailureAllowsExit;

    /// <summary>How many tasks are in flight (tests and diagnostics).</summary>
    public int InFlightCount
    {
        get
        {
            lock (_lock)
            {
                int n = 0;
                for (var t = _inFlight; t is not null; t = t.Next) n++;
                return n;
            }
        }
    }

    // ------------------------------------------------------------------ sense per nexus

    /// <summary>Keeps sense data for REQUEST SENSE from <paramref name="nexus"/> (used when the request had no room for autosense).</summary>
    public void SetPendingSense(InitiatorNexus nexus, ReadOnlySpan<byte> sense) => Nexuses.Get(nexus).PendingSense = sense.ToArray();

    /// <summary>Takes the sense data pending for <paramref name="nexus"/>, if any (REQUEST SENSE clears it, SPC-4 §6.29).</summary>
    public byte[]? TakePendingSense(InitiatorNexus nexus) => Present ? Interlocked.Exchange(ref Nexuses.Get(nexus).PendingSense, null) : null;

    // ------------------------------------------------------------------ identity

    private static string DeriveSerial(ScsiDiskDefinition d)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{d.VendorId}|{d.ProductId}|{d.Address}"));
        return "SS" + Convert.ToHexString(hash, 0, 8);
    }

    /// <summary>NAA 3h (locally assigned, SPC-4 §7.8.6.6.4): the type nibble then 60 bits of a hash of vendor and serial.</summary>
    private static byte[] DeriveNaa(string vendor, string serial)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{vendor}|{serial}"));
        var naa = hash[..8];
        naa[0] = (byte)(0x30 | (naa[0] & 0x0F));
        return naa;
    }
}
