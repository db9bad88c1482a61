using System.Collections.Frozen;

namespace StorSharp.Iscsi.Login;

/// <summary>A target as the server serves it: its definition plus lookup tables built once.</summary>
internal sealed class TargetEntry
{
    public TargetEntry(IscsiTargetDefinition definition)
    {
        Definition = definition;
        _luns = definition.Luns.ToFrozenDictionary(l => l.LunNumber, l => new Session.LunState(l));
        _lunNumbers = [.. definition.Luns.Select(l => l.LunNumber).Order()];
        _allowed = definition.AllowedInitiators?.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }

    private readonly FrozenSet<string>? _allowed;

    public IscsiTargetDefinition Definition { get; }
    public string Name => Definition.Name;
    // The LUN table changes at run time (hot plug): copied on write under _lock, read lock-free.
    private readonly Lock _lock = new();
    private volatile FrozenDictionary<ulong, Session.LunState> _luns;
    private volatile ulong[] _lunNumbers;

    /// <summary>The LUNs now, by number.</summary>
    public FrozenDictionary<ulong, Session.LunState> Luns => _luns;

    /// <summary>The LUN numbers now, ascending (REPORT LUNS).</summary>
    public ulong[] LunNumbers => _lunNumbers;

    /// <summary>Adds a LUN; false when the number is taken.</summary>
    public bool TryAddLun(Session.LunState lun)
    {
        lock (_lock)
        {
            if (_luns.ContainsKey(lun.Lun.LunNumber)) return false;
            Publish([.. _luns.Values, lun]);
            return true;
        }
    }

    /// <summary>Removes a LUN; null when there is none with that number.</summary>
    public Session.LunState? RemoveLun(ulong number)
    {
        lock (_lock)
        {
            if (!_luns.TryGetValue(number, out var lun)) return null;
            Publish([.. _luns.Values.Where(l => l.Lun.LunNumber != number)]);
            return lun;
        }
    }

    private void Publish(List<Session.LunState> luns)
    {
        _luns = luns.ToFrozenDictionary(l => l.Lun.LunNumber);
        _lunNumbers = [.. luns.Select(l => l.Lun.LunNumber).Order()];
    }

    /// <summary>True when the ACL lets <paramref name="initiatorName"/> in (iSCSI names compare case-insensitively, RFC 3722).</summary>
    public bool Allows(string initiatorName) => _allowed is null || _allowed.Contains(initiatorName);
}

/// <summary>What the login negotiator needs from the server.</summary>
internal interface ITargetDirectory
{
    IscsiTargetOptions Options { get; }
    TargetEntry? FindTarget(string name);
    bool SessionExists(ushort tsih);
}
