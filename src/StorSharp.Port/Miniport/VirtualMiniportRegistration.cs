namespace StorSharp.Port;

/// <summary>
/// Stage 1 of initialisation: what a miniport registers with the port (Storport's
/// <c>VIRTUAL_HW_INITIALIZATION_DATA</c> passed to <c>StorPortInitialize</c>). The routines come
/// from the miniport object <see cref="CreateMiniport"/> makes, one per adapter.
/// </summary>
public sealed record VirtualMiniportRegistration
{
    /// <summary>A short name for the miniport, shown in events and listings (for example <c>ScsiDisk</c>).</summary>
    public required string Name { get; init; }

    /// <summary>Makes the miniport object for a new adapter; the object is that adapter's device extension.</summary>
    public required Func<IVirtualMiniport> CreateMiniport { get; init; }

    /// <summary>Bytes of per-request scratch space in <see cref="Srb.SrbExtension"/> (Storport <c>SrbExtensionSize</c>).</summary>
    public int SrbExtensionSize { get; init; }

    /// <summary>Bytes of per-LU scratch space in <see cref="LogicalUnit.MiniportExtension"/> (Storport <c>SpecificLuExtensionSize</c>).</summary>
    public int SpecificLuExtensionSize { get; init; }

    /// <summary>The miniport handles tagged queuing: many requests per LU, ordered by tag (Storport <c>TaggedQueuing</c>).</summary>
    public bool TaggedQueuing { get; init; } = true;

    /// <summary>More than one request per LU at once (Storport <c>MultipleRequestPerLu</c>); false caps the LU depth at 1.</summary>
    public bool MultipleRequestPerLu { get; init; } = true;

    /// <summary>The miniport returns sense data with failed requests (Storport <c>AutoRequestSense</c>).</summary>
    public bool AutoRequestSense { get; init; } = true;

    /// <summary>Vendor identifier reported for the adapter (Storport <c>VendorId</c>).</summary>
    public string VendorId { get; init; } = "StorSharp";

    /// <summary>Device identifier reported for the adapter (Storport <c>DeviceId</c>).</summary>
    public string DeviceId { get; init; } = "Virtual";
}
