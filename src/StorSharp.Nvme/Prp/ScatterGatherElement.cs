namespace StorSharp.Nvme;

/// <summary>
/// One element of a Storport scatter/gather list (<c>STOR_SCATTER_GATHER_ELEMENT</c>): a physical
/// address and a length, with no alignment rule.
/// </summary>
/// <param name="Address">The physical address of the first byte.</param>
/// <param name="Length">The length in bytes (more than 0).</param>
public readonly record struct ScatterGatherElement(ulong Address, int Length)
{
    /// <summary>The address one past the last byte.</summary>
    public ulong End => Address + (ulong)Length;

    /// <summary>The element as <c>address+length</c> in hex, for test output.</summary>
    public override string ToString() => $"{Address:X}+{Length:X}";
}
