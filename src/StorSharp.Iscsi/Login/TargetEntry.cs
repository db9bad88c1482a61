using System.Collections.Frozen;

namespace StorSharp.Iscsi.Login;

/// <summary>A target as the server serves it: its definition plus lookup tables built once.</summary>
internal sealed class TargetEntry
{
    public TargetEntry(IscsiTargetDefinition definition)
    {
        Definition = definition;
        Luns = definition.Luns.ToFrozenDictionary(l => l.LunNumber, l => new Session.LunState(l));
        LunNumbers = [.. definition.Luns.Select(l => l.LunNumber).Order()];
        _allowed = definition.AllowedInitiators?.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }

    private readonly FrozenSet<string>? _allowed;

    public IscsiTargetDefinition Definition { get; }
    public string Name => Definition.Name;
    public FrozenDictionary<ulong, Session.LunState> Luns { get; }
    public ulong[] LunNumbers { get; }

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
