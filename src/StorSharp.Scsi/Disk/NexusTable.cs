using System.Collections.Concurrent;
using StorSharp.Port;

namespace StorSharp.Scsi;

/// <summary>What one LU keeps per I_T nexus: pending unit attentions (SAM-5 §5.14) and, later, reservation state.</summary>
internal sealed class NexusState(InitiatorNexus nexus)
{
    private readonly Lock _lock = new();
    private readonly List<SenseCode> _attentions = [];
    private volatile int _count;

    public InitiatorNexus Nexus { get; } = nexus;

    /// <summary>True when a unit attention waits (read without a lock on every command).</summary>
    public bool HasUnitAttention => _count != 0;

    /// <summary>Queues a unit attention. POWER ON / RESET outranks and replaces the rest (SAM-5 §5.14); duplicates are dropped.</summary>
    public void Add(SenseCode code)
    {
        lock (_lock)
        {
            if (code.Asc == 0x29) _attentions.RemoveAll(c => c.Asc != 0x29);
            else if (_attentions.Exists(c => c.Asc == 0x29 && c.Ascq == 0x00)) return;
            if (!_attentions.Contains(code)) _attentions.Add(code);
            _count = _attentions.Count;
        }
    }

    /// <summary>Takes the oldest unit attention (reported, so cleared).</summary>
    public SenseCode? Take()
    {
        lock (_lock)
        {
            if (_attentions.Count == 0) return null;
            var code = _attentions[0];
            _attentions.RemoveAt(0);
            _count = _attentions.Count;
            return code;
        }
    }

    /// <summary>Clears one kind of unit attention (REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED, SPC-4 §6.33).</summary>
    public void Clear(SenseCode code)
    {
        lock (_lock)
        {
            _attentions.Remove(code);
            _count = _attentions.Count;
        }
    }

    /// <summary>Pending sense for REQUEST SENSE (sense that had no room in its request).</summary>
    public byte[]? PendingSense;

    /// <summary>
    /// EXTENDED COPY results held for RECEIVE COPY RESULTS, by list identifier (SPC-4 §6.4.3.2:
    /// a list identifier names a copy among those of one I_T nexus). Lock the dictionary to use it.
    /// </summary>
    public readonly Dictionary<byte, CopyRecord> Copies = [];
}

/// <summary>
/// The I_T nexuses one LU has seen. A nexus seen for the first time starts with a POWER ON,
/// RESET unit attention (the LU "powered on" before it met the nexus), except
/// <see cref="InitiatorNexus.Local"/>, StorSharp's own requests, which get none.
/// </summary>
internal sealed class NexusTable(bool powerOnAttention)
{
    private readonly ConcurrentDictionary<long, NexusState> _states = new();

    public NexusState Get(InitiatorNexus nexus)
    {
        if (_states.TryGetValue(nexus.Id, out var state)) return state;
        state = new NexusState(nexus);
        if (powerOnAttention && !ReferenceEquals(nexus, InitiatorNexus.Local)) state.Add(SenseCodes.PowerOnReset);
        return _states.GetOrAdd(nexus.Id, state);
    }

    /// <summary>Forgets a nexus (I_T nexus loss).</summary>
    public void Remove(long nexusId) => _states.TryRemove(nexusId, out _);

    public NexusState? Find(long nexusId) => _states.GetValueOrDefault(nexusId);

    public IEnumerable<NexusState> All => _states.Values;

    /// <summary>Establishes a unit attention for every nexus seen except <paramref name="except"/> and the local one.</summary>
    public void AddToAll(SenseCode code, NexusState? except = null)
    {
        foreach (var s in _states.Values)
            if (!ReferenceEquals(s, except) && !ReferenceEquals(s.Nexus, InitiatorNexus.Local)) s.Add(code);
    }
}
