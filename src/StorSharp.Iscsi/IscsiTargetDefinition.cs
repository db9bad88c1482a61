using StorSharp.Port;

namespace StorSharp.Iscsi;

/// <summary>One logical unit a target exposes: the LUN number initiators see, and where the port finds the LU.</summary>
/// <param name="LunNumber">The LUN the initiator addresses, 0 to 16383 (SAM peripheral addressing below 256, flat space addressing above).</param>
/// <param name="Adapter">The adapter whose miniport serves the LU.</param>
/// <param name="Address">The LU's bus, target and LUN on that adapter.</param>
public sealed record IscsiLun(ulong LunNumber, Adapter Adapter, ScsiAddress Address);

/// <summary>A CHAP user name and secret (RFC 7143 §12.1.3).</summary>
/// <param name="User">The name sent as CHAP_N.</param>
/// <param name="Secret">The shared secret; RFC 7143 asks for at least 12 bytes, and a different secret for each direction.</param>
public sealed record ChapCredentials(string User, string Secret)
{
    /// <summary>The user name only: secrets never appear in logs.</summary>
    public override string ToString() => $"CHAP user {User}";
}

/// <summary>An iSCSI target: a name, its LUNs, and who may log in to it.</summary>
/// <param name="Name">The target's iSCSI name, for example <c>iqn.2026-11.org.storsharp:disk1</c>.</param>
/// <param name="Luns">The LUNs the target exposes; numbers must be unique.</param>
public sealed record IscsiTargetDefinition(string Name, IReadOnlyList<IscsiLun> Luns)
{
    /// <summary>A human-readable name declared to initiators as TargetAlias (RFC 7143 §13.6).</summary>
    public string? Alias { get; init; }

    /// <summary>Initiator names allowed to log in and to see the target in discovery; null allows every initiator.</summary>
    public IReadOnlyList<string>? AllowedInitiators { get; init; }

    /// <summary>When set, initiators must authenticate with CHAP using these credentials (one-way CHAP).</summary>
    public ChapCredentials? Chap { get; init; }

    /// <summary>When set, the target can authenticate itself to initiators that ask (mutual CHAP) with these credentials.</summary>
    public ChapCredentials? MutualChap { get; init; }
}
