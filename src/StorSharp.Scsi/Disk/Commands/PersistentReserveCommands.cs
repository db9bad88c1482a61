using System.Buffers.Binary;
using System.Text;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>
/// PERSISTENT RESERVE IN (SPC-4 §6.15: READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ
/// FULL STATUS) and PERSISTENT RESERVE OUT (SPC-4 §6.16: REGISTER, RESERVE, RELEASE, CLEAR,
/// PREEMPT, PREEMPT AND ABORT, REGISTER AND IGNORE EXISTING KEY, REGISTER AND MOVE) over the LU's
/// <see cref="PersistentReservations"/>. Supported: every reservation type, LU scope, ALL_TG_PT.
/// Refused with INVALID FIELD IN PARAMETER LIST: SPEC_I_PT (SIP_C = 0) and APTPL (PTPL_C = 0).
/// Both commands are allowed under any reservation (SPC-4 table 66); PERSISTENT RESERVE OUT
/// applies its own key checks and answers RESERVATION CONFLICT itself.
/// </summary>
internal static class PersistentReserveCommands
{
    private const byte ReadKeys = 0x00, ReadReservation = 0x01, ReportCapabilities = 0x02, ReadFullStatus = 0x03;
    private const byte Register = 0x00, Reserve = 0x01, Release = 0x02, Clear = 0x03, Preempt = 0x04, PreemptAndAbort = 0x05,
        RegisterAndIgnore = 0x06, RegisterAndMove = 0x07;

    /// <summary>The length of the basic PERSISTENT RESERVE OUT parameter list (SPC-4 §6.16.3).</summary>
    private const int BasicParameterListLength = 24;

    /// <summary>The most registrations one LU keeps (more: INSUFFICIENT REGISTRATION RESOURCES).</summary>
    internal const int MaxRegistrations = 256;

    public static ScsiCommand[] Rows =>
    [
        In(ReadKeys, "PERSISTENT RESERVE IN / READ KEYS"),
        In(ReadReservation, "PERSISTENT RESERVE IN / READ RESERVATION"),
        In(ReportCapabilities, "PERSISTENT RESERVE IN / REPORT CAPABILITIES"),
        In(ReadFullStatus, "PERSISTENT RESERVE IN / READ FULL STATUS"),
        Out(Register, "PERSISTENT RESERVE OUT / REGISTER"),
        Out(Reserve, "PERSISTENT RESERVE OUT / RESERVE"),
        Out(Release, "PERSISTENT RESERVE OUT / RELEASE"),
        Out(Clear, "PERSISTENT RESERVE OUT / CLEAR"),
        Out(Preempt, "PERSISTENT RESERVE OUT / PREEMPT"),
        Out(PreemptAndAbort, "PERSISTENT RESERVE OUT / PREEMPT AND ABORT"),
        Out(RegisterAndIgnore, "PERSISTENT RESERVE OUT / REGISTER AND IGNORE EXISTING KEY"),
        Out(RegisterAndMove, "PERSISTENT RESERVE OUT / REGISTER AND MOVE"),
    ];

    private static ScsiCommand In(byte sa, string name) =>
        Row(ScsiOpcodes.PersistentReserveIn, name, DataDirection.In, [ScsiOpcodes.PersistentReserveIn, sa, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, PersistentReserveIn, sa);

    private static ScsiCommand Out(byte sa, string name) =>
        Row(ScsiOpcodes.PersistentReserveOut, name, DataDirection.Out, [ScsiOpcodes.PersistentReserveOut, sa, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.None, PersistentReserveOut, sa);

    // ------------------------------------------------------------------ PERSISTENT RESERVE IN

    private static void PersistentReserveIn(ScsiTask task)
    {
        var cdb = task.Cdb;
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        var pr = task.Unit.Reservations;
        byte[] data;
        lock (pr.SyncRoot)
        {
            data = (cdb[1] & 0x1F) switch
            {
                ReadKeys => BuildReadKeys(pr),
                ReadReservation => BuildReadReservation(pr),
                ReportCapabilities => BuildReportCapabilities(),
                _ => BuildReadFullStatus(pr),
            };
        }
        // SPC-4 §6.15.2: the ADDITIONAL LENGTH says what exists, whatever the allocation length cuts.
        task.CompleteDataIn(data, allocation);
    }

    private static byte[] BuildReadKeys(PersistentReservations pr)
    {
        var regs = pr.Registrations;
        var data = new byte[8 + 8 * regs.Count];
        BinaryPrimitives.WriteUInt32BigEndian(data, pr.Generation);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(4), (uint)(8 * regs.Count));
        for (int i = 0; i < regs.Count; i++) BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(8 + 8 * i), regs[i].Key);
        return data;
    }

    private static byte[] BuildReadReservation(PersistentReservations pr)
    {
        if (!pr.IsReserved)
        {
            var empty = new byte[8];
            BinaryPrimitives.WriteUInt32BigEndian(empty, pr.Generation);
            return empty;
        }
        var data = new byte[24];
        BinaryPrimitives.WriteUInt32BigEndian(data, pr.Generation);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(4), 16);
        // SPC-4 §6.15.3: under the all-registrants types the RESERVATION KEY is zero.
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(8), pr.Holder?.Key ?? 0);
        data[21] = (byte)pr.Type; // SCOPE 0h (LU) in bits 7-4
        return data;
    }

    private static byte[] BuildReportCapabilities()
    {
        var data = new byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(data, 8);
        data[2] = 0x04; // ATP_C (ALL_TG_PT supported); CRH, SIP_C, PTPL_C = 0
        data[3] = 0x80; // TMV: the type mask is valid; ALLOW COMMANDS 000b; PTPL_A = 0
        data[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
        data[5] = 0x01; // EX_AC_AR
        return data;
    }

    private static byte[] BuildReadFullStatus(PersistentReservations pr)
    {
        var descriptors = new List<byte[]>();
        foreach (var r in pr.Registrations)
        {
            var transportId = TransportId(r.InitiatorPort);
            var d = new byte[24 + transportId.Length];
            BinaryPrimitives.WriteUInt64BigEndian(d, r.Key);
            bool holder = pr.IsHolder(r);
            d[12] = (byte)((r.TargetPort is null ? 0x02 : 0) | (holder ? 0x01 : 0)); // ALL_TG_PT, R_HOLDER
            if (holder) d[13] = (byte)pr.Type;
            BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(18), r.RelativeTargetPortId);
            BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(20), (uint)transportId.Length);
            transportId.CopyTo(d, 24);
            descriptors.Add(d);
        }
        int length = descriptors.Sum(d => d.Length);
        var data = new byte[8 + length];
        BinaryPrimitives.WriteUInt32BigEndian(data, pr.Generation);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(4), (uint)length);
        int offset = 8;
        foreach (var d in descriptors) { d.CopyTo(data, offset); offset += d.Length; }
        return data;
    }

    /// <summary>
    /// An iSCSI TransportID (SPC-4 §7.6.4.6): format 01b (name, ",i,0x", ISID) when the port name
    /// carries an ISID, else format 00b; null-terminated, padded to a multiple of 4, at least 20 bytes.
    /// </summary>
    internal static byte[] TransportId(string initiatorPort)
    {
        bool withIsid = initiatorPort.Contains(",i,0x", StringComparison.OrdinalIgnoreCase);
        var name = Encoding.UTF8.GetBytes(initiatorPort);
        int length = Math.Max(20, (4 + name.Length + 1 + 3) / 4 * 4);
        var id = new byte[length];
        id[0] = (byte)((withIsid ? 0x40 : 0x00) | 0x05); // FORMAT CODE, PROTOCOL IDENTIFIER 5h (iSCSI)
        BinaryPrimitives.WriteUInt16BigEndian(id.AsSpan(2), (ushort)(length - 4));
        name.CopyTo(id, 4);
        return id;
    }

    /// <summary>Reads the initiator port name of an iSCSI TransportID; null when it is not one.</summary>
    internal static string? ParseTransportId(ReadOnlySpan<byte> id)
    {
        if (id.Length < 4 || (id[0] & 0x0F) != 0x05 || (id[0] >> 6) > 1) return null;
        int additional = BinaryPrimitives.ReadUInt16BigEndian(id[2..]);
        if (additional + 4 > id.Length || additional == 0) return null;
        var body = id.Slice(4, additional);
        int end = body.IndexOf((byte)0);
        if (end <= 0) return null;
        var name = Encoding.UTF8.GetString(body[..end]);
        // Format 00b carries the name alone: it then names the initiator port with the same name
        // (SPC-4 §7.6.4.6); format 01b carries ",i,0x" and the ISID, as a port name does.
        return name;
    }

    // ------------------------------------------------------------------ PERSISTENT RESERVE OUT

    private static void PersistentReserveOut(ScsiTask task)
    {
        var cdb = task.Cdb;
        int sa = cdb[1] & 0x1F;
        int scope = cdb[2] >> 4, type = cdb[2] & 0x0F;
        uint listLength = BinaryPrimitives.ReadUInt32BigEndian(cdb[5..]);
        // SPC-4 §6.16.3: the basic parameter list is 24 bytes (REGISTER AND MOVE has its own, longer one).
        if (sa == RegisterAndMove ? listLength < BasicParameterListLength : listLength != BasicParameterListLength)
        {
            task.CompleteCheckCondition(SenseCodes.ParameterListLengthError);
            return;
        }
        if (listLength > 64 * 1024 || task.BufferLength < listLength)
        {
            task.CompleteCheckCondition(SenseCodes.ParameterListLengthError);
            return;
        }
        var list = new byte[listLength];
        task.ReadDataOut(list);
        ulong key = BinaryPrimitives.ReadUInt64BigEndian(list);
        ulong sark = BinaryPrimitives.ReadUInt64BigEndian(list.AsSpan(8));
        if (sa == RegisterAndMove)
        {
            if ((list[17] & 0x01) != 0) { task.CompleteCheckCondition(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(17, 0)); return; }
        }
        else
        {
            if ((list[20] & 0x08) != 0) { task.CompleteCheckCondition(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(20, 3)); return; } // SPEC_I_PT: SIP_C = 0
            if ((list[20] & 0x01) != 0) { task.CompleteCheckCondition(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(20, 0)); return; } // APTPL: PTPL_C = 0
        }
        bool allTargetPorts = sa != RegisterAndMove && (list[20] & 0x04) != 0;
        // SPC-4 §6.16.2: RESERVE, RELEASE and PREEMPT take an LU scope and a valid type.
        if (sa is Reserve or Release or Preempt or PreemptAndAbort)
        {
            if (scope != 0) { task.CompleteInvalidField(2, 7); return; }
            if (!PersistentReservations.IsValidType(type)) { task.CompleteInvalidField(2, 3); return; }
        }

        var unit = task.Unit;
        var pr = unit.Reservations;
        var nexus = task.Srb.Nexus;
        Outcome outcome;
        lock (pr.SyncRoot)
        {
            var own = pr.Find(nexus);
            outcome = sa switch
            {
                Register or RegisterAndIgnore => DoRegister(unit, pr, nexus, own, key, sark, ignoreKey: sa == RegisterAndIgnore, allTargetPorts),
                Reserve => DoReserve(pr, own, key, (PersistentReservationType)type),
                Release => DoRelease(unit, pr, nexus, own, key, (PersistentReservationType)type),
                Clear => DoClear(unit, pr, nexus, own, key),
                Preempt or PreemptAndAbort => DoPreempt(unit, pr, nexus, own, key, sark, (PersistentReservationType)type),
                _ => DoRegisterAndMove(pr, nexus, own, key, sark, list),
            };
        }
        switch (outcome.Kind)
        {
            case OutcomeKind.Good: task.CompleteGood(); break;
            case OutcomeKind.Conflict: task.CompleteStatus(ScsiStatus.ReservationConflict); break;
            default: task.CompleteCheckCondition(outcome.Sense, outcome.Pointer); break;
        }
    }

    private enum OutcomeKind { Good, Conflict, Check }

    private readonly record struct Outcome(OutcomeKind Kind, SenseCode Sense = default, SenseKeySpecific Pointer = default)
    {
        public static Outcome Good => new(OutcomeKind.Good);
        public static Outcome Conflict => new(OutcomeKind.Conflict);
        public static Outcome Check(SenseCode sense, SenseKeySpecific pointer = default) => new(OutcomeKind.Check, sense, pointer);
        public static Outcome BadParameter(int byteIndex, int bit = -1) => Check(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(byteIndex, bit));
    }

    /// <summary>REGISTER and REGISTER AND IGNORE EXISTING KEY (SPC-4 §5.12.7).</summary>
    private static Outcome DoRegister(DiskUnit unit, PersistentReservations pr, InitiatorNexus nexus, PrRegistration? own,
        ulong key, ulong sark, bool ignoreKey, bool allTargetPorts)
    {
        if (own is null)
        {
            // An unregistered nexus registers with RESERVATION KEY zero (REGISTER) or any key (IGNORE).
            if (!ignoreKey && key != 0) return Outcome.Conflict;
            if (sark == 0) return Outcome.Good; // nothing to register, nothing to remove
            if (pr.Registrations.Count >= MaxRegistrations) return Outcome.Check(SenseCodes.InsufficientRegistrationResources);
            pr.Add(new PrRegistration(nexus.InitiatorPortName, allTargetPorts ? null : nexus.TargetPortName, nexus.RelativeTargetPortId, sark));
            pr.BumpGeneration();
            return Outcome.Good;
        }
        if (!ignoreKey && key != own.Key) return Outcome.Conflict;
        if (sark == 0)
        {
            if (pr.Remove(own)) NotifyRegistrants(unit, pr, nexus, SenseCodes.ReservationsReleased);
        }
        else own.Key = sark;
        pr.BumpGeneration();
        return Outcome.Good;
    }

    /// <summary>RESERVE (SPC-4 §5.12.9): only a registered nexus with its own key; a reservation held by another (or of another type) conflicts.</summary>
    private static Outcome DoReserve(PersistentReservations pr, PrRegistration? own, ulong key, PersistentReservationType type)
    {
        if (own is null || key != own.Key) return Outcome.Conflict;
        if (pr.IsReserved)
            return pr.IsHolder(own) && pr.Type == type ? Outcome.Good : Outcome.Conflict;
        pr.Reserve(own, type); // RESERVE does not change PRgeneration
        return Outcome.Good;
    }

    /// <summary>RELEASE (SPC-4 §5.12.11.2): a no-op for a non-holder; the holder must name the reservation's type.</summary>
    private static Outcome DoRelease(DiskUnit unit, PersistentReservations pr, InitiatorNexus nexus, PrRegistration? own, ulong key, PersistentReservationType type)
    {
        if (own is null || key != own.Key) return Outcome.Conflict;
        if (!pr.IsReserved || !pr.IsHolder(own)) return Outcome.Good;
        if (pr.Type != type) return Outcome.Check(SenseCodes.InvalidReleaseOfPersistentReservation);
        bool notify = PersistentReservations.IsRegistrantsType(pr.Type);
        pr.ReleaseReservation();
        // §5.12.11.2.2: releasing a registrants-only or all-registrants reservation tells the other
        // registrants RESERVATIONS RELEASED; Write Exclusive and Exclusive Access releases are silent.
        if (notify) NotifyRegistrants(unit, pr, nexus, SenseCodes.ReservationsReleased);
        return Outcome.Good;
    }

    /// <summary>CLEAR (SPC-4 §5.12.11.6): every registration and the reservation go; the others learn RESERVATIONS PREEMPTED.</summary>
    private static Outcome DoClear(DiskUnit unit, PersistentReservations pr, InitiatorNexus nexus, PrRegistration? own, ulong key)
    {
        if (own is null || key != own.Key) return Outcome.Conflict;
        NotifyRegistrants(unit, pr, nexus, SenseCodes.ReservationsPreempted);
        pr.Clear();
        pr.BumpGeneration();
        return Outcome.Good;
    }

    /// <summary>
    /// PREEMPT and PREEMPT AND ABORT (SPC-4 §5.12.11.4, §5.12.11.5). Tasks of preempted nexuses
    /// are not aborted by PREEMPT AND ABORT: commands on this miniport finish quickly and any that
    /// start after it meet the new reservation; the command is otherwise PREEMPT.
    /// </summary>
    private static Outcome DoPreempt(DiskUnit unit, PersistentReservations pr, InitiatorNexus nexus, PrRegistration? own,
        ulong key, ulong sark, PersistentReservationType type)
    {
        if (own is null || key != own.Key) return Outcome.Conflict;
        var removed = new List<PrRegistration>();
        if (pr.IsReserved && PersistentReservations.IsAllRegistrants(pr.Type) && sark == 0)
        {
            // §5.12.11.4.3: under an all-registrants reservation, SARK zero removes every other
            // registrant and the preempting nexus takes a new reservation.
            foreach (var r in pr.Registrations) if (!ReferenceEquals(r, own)) removed.Add(r);
            foreach (var r in removed) pr.Remove(r);
            pr.ReleaseReservation();
            pr.Reserve(own, type);
        }
        else if (pr.IsReserved && !PersistentReservations.IsAllRegistrants(pr.Type) && pr.Holder!.Key == sark)
        {
            // §5.12.11.4.3: preempting the holder: its registrations (all with that key but ours) go,
            // and the preempting nexus holds a reservation of the type in the CDB.
            var oldType = pr.Type;
            foreach (var r in pr.Registrations) if (r.Key == sark && !ReferenceEquals(r, own)) removed.Add(r);
            pr.ReleaseReservation();
            foreach (var r in removed) pr.Remove(r);
            pr.Reserve(own, type);
            if (oldType != type) NotifyRegistrants(unit, pr, nexus, SenseCodes.ReservationsReleased);
        }
        else
        {
            // §5.12.11.4.4: no reservation, or SARK is not the holder's key: only registrations go.
            if (sark == 0) return Outcome.BadParameter(8);
            foreach (var r in pr.Registrations) if (r.Key == sark) removed.Add(r);
            if (removed.Count == 0) return Outcome.Conflict;
            foreach (var r in removed) pr.Remove(r);
        }
        foreach (var r in removed) NotifyRegistration(unit, r, nexus, SenseCodes.RegistrationsPreempted);
        pr.BumpGeneration();
        return Outcome.Good;
    }

    /// <summary>REGISTER AND MOVE (SPC-4 §5.12.8): the holder registers another initiator port (named by a TransportID) and hands it the reservation.</summary>
    private static Outcome DoRegisterAndMove(PersistentReservations pr, InitiatorNexus nexus, PrRegistration? own, ulong key, ulong sark, byte[] list)
    {
        if (own is null || key != own.Key) return Outcome.Conflict;
        if (!pr.IsReserved || PersistentReservations.IsAllRegistrants(pr.Type) || !pr.IsHolder(own)) return Outcome.Conflict;
        if (sark == 0) return Outcome.BadParameter(8);
        bool unregister = (list[17] & 0x02) != 0;
        int idLength = (int)BinaryPrimitives.ReadUInt32BigEndian(list.AsSpan(20));
        if (idLength < 4 || 24L + idLength > list.Length) return Outcome.BadParameter(20);
        var destination = ParseTransportId(list.AsSpan(24, idLength));
        if (destination is null) return Outcome.BadParameter(24);
        // The destination is reached through the same target port (the only one a target has here).
        if (string.Equals(destination, nexus.InitiatorPortName, StringComparison.OrdinalIgnoreCase)) return Outcome.BadParameter(24);
        PrRegistration? target = null;
        foreach (var r in pr.Registrations) if (r.Matches(destination, nexus.TargetPortName)) { target = r; break; }
        if (target is null)
        {
            if (pr.Registrations.Count >= MaxRegistrations) return Outcome.Check(SenseCodes.InsufficientRegistrationResources);
            target = new PrRegistration(destination, nexus.TargetPortName, nexus.RelativeTargetPortId, sark);
            pr.Add(target);
        }
        else target.Key = sark;
        var type = pr.Type;
        pr.ReleaseReservation();
        pr.Reserve(target, type);
        if (unregister) pr.Remove(own);
        pr.BumpGeneration();
        return Outcome.Good;
    }

    /// <summary>Establishes <paramref name="code"/> for every nexus registered now, except the one that asked.</summary>
    private static void NotifyRegistrants(DiskUnit unit, PersistentReservations pr, InitiatorNexus except, SenseCode code)
    {
        foreach (var r in pr.Registrations) NotifyRegistration(unit, r, except, code);
    }

    private static void NotifyRegistration(DiskUnit unit, PrRegistration registration, InitiatorNexus except, SenseCode code)
    {
        foreach (var state in unit.Nexuses.All)
            if (state.Nexus.Id != except.Id && !ReferenceEquals(state.Nexus, InitiatorNexus.Local) && registration.Matches(state.Nexus)) state.Add(code);
    }
}
