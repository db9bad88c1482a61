using System.Collections.Concurrent;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Nvme;

/// <summary>
/// The unit attentions of one namespace's LU, per I_T nexus (SAM-5 §5.14): NVMe has none, so the
/// translation keeps them, as stornvme answers for its LUs. Only resets establish one (LOGICAL UNIT
/// RESET and target reset: BUS DEVICE RESET FUNCTION OCCURRED 29h/03h; a bus reset: 29h/02h), for
/// every nexus that has sent a command; a newer one replaces an older one (all are 29h, the highest
/// precedence). StorSharp's own nexus (<see cref="InitiatorNexus.Local"/>) never gets one.
/// </summary>
/// <remarks>A command looks its nexus up once (no lock, no allocation once the nexus is known).</remarks>
internal sealed class UnitAttentions
{
    private readonly ConcurrentDictionary<long, SenseCode> _pending = new();

    /// <summary>No unit attention (the value of a nexus with nothing pending).</summary>
    private static readonly SenseCode None = default;

    /// <summary>Takes the nexus's pending unit attention (it is reported, so cleared); a nexus seen for the first time is remembered.</summary>
    public bool TryTake(InitiatorNexus nexus, out SenseCode code)
    {
        code = default;
        if (ReferenceEquals(nexus, InitiatorNexus.Local)) return false;
        if (!_pending.TryGetValue(nexus.Id, out var pending))
        {
            _pending.TryAdd(nexus.Id, None);
            return false;
        }
        if (pending == None || !_pending.TryUpdate(nexus.Id, None, pending)) return false;
        code = pending;
        return true;
    }

    /// <summary>Establishes <paramref name="code"/> for every nexus known.</summary>
    public void EstablishForAll(SenseCode code)
    {
        foreach (var id in _pending.Keys) _pending[id] = code;
    }

    /// <summary>Forgets a nexus (I_T nexus loss: its unit attentions go with it).</summary>
    public void Forget(long nexusId) => _pending.TryRemove(nexusId, out _);
}
