namespace StorSharp.Port;

/// <summary>
/// The address of a logical unit: bus (Storport <c>PathId</c>), target and LUN.
/// <see cref="Wildcard"/> in any field matches every value (as <c>SP_UNTAGGED</c> does for
/// <c>StorPortCompleteRequest</c>).
/// </summary>
/// <param name="PathId">The bus number on the adapter.</param>
/// <param name="TargetId">The target on that bus.</param>
/// <param name="Lun">The logical unit behind that target.</param>
public readonly record struct ScsiAddress(byte PathId, byte TargetId, byte Lun)
{
    /// <summary>The value that matches any bus, target or LUN.</summary>
    public const byte Wildcard = 0xFF;

    /// <summary>True when <paramref name="other"/> is matched by this address, wildcards included.</summary>
    public bool Matches(ScsiAddress other) =>
        (PathId == Wildcard || PathId == other.PathId) &&
        (TargetId == Wildcard || TargetId == other.TargetId) &&
        (Lun == Wildcard || Lun == other.Lun);

    /// <summary>Bus, target and LUN as <c>b:t:l</c>.</summary>
    public override string ToString() => $"{PathId}:{TargetId}:{Lun}";
}
