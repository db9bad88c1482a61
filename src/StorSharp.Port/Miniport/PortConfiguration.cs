namespace StorSharp.Port;

/// <summary>
/// What a miniport tells the port about its adapter in <see cref="IVirtualMiniport.FindAdapter"/>
/// (Storport <c>PORT_CONFIGURATION_INFORMATION</c>). The port checks it before Initialize.
/// </summary>
public sealed class PortConfiguration
{
    /// <summary>How many buses the adapter has (Storport <c>NumberOfBuses</c>). Limited by <see cref="PortOptions.MaximumBuses"/> (default 8).</summary>
    public int NumberOfBuses { get; set; } = 1;

    /// <summary>Targets per bus, 1 to 255 (Storport <c>MaximumNumberOfTargets</c>). The port scans this many.</summary>
    public int MaximumNumberOfTargets { get; set; } = 1;

    /// <summary>LUNs per target, 1 to 255 (Storport <c>MaximumNumberOfLogicalUnits</c>).</summary>
    public int MaximumNumberOfLogicalUnits { get; set; } = 255;

    /// <summary>The largest transfer in bytes one SRB may carry (Storport <c>MaximumTransferLength</c>).</summary>
    public int MaximumTransferLength { get; set; } = 8 * 1024 * 1024;

    /// <summary>The most scatter/gather elements one SRB may carry (Storport <c>NumberOfPhysicalBreaks</c>).</summary>
    public int NumberOfPhysicalBreaks { get; set; } = 256;

    /// <summary>Data buffers must start at a multiple of this plus one (Storport <c>AlignmentMask</c>); 0 means no rule.</summary>
    public int AlignmentMask { get; set; }

    /// <summary>The queue depth each LU starts with, 1 to 255 (Storport's virtual miniport default is 250).</summary>
    public int DefaultQueueDepth { get; set; } = 250;

    /// <summary>The bus type reported to the class layer (Storport <c>STORAGE_BUS_TYPE</c>).</summary>
    public StorageBusType BusType { get; set; } = StorageBusType.Virtual;

    /// <summary>True when the adapter caches data, so the class layer sends flushes (Storport <c>CachesData</c>).</summary>
    public bool CachesData { get; set; }

    /// <summary>
    /// Sizes <see cref="NumberOfBuses"/>, <see cref="MaximumNumberOfTargets"/> and
    /// <see cref="MaximumNumberOfLogicalUnits"/> to just cover <paramref name="addresses"/> (one of
    /// each at least): what a virtual miniport with a fixed unit table reports in FindAdapter.
    /// </summary>
    public void Cover(IEnumerable<ScsiAddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        int maxBus = 0, maxTarget = 0, maxLun = 0;
        foreach (var a in addresses)
        {
            maxBus = Math.Max(maxBus, a.PathId);
            maxTarget = Math.Max(maxTarget, a.TargetId);
            maxLun = Math.Max(maxLun, a.Lun);
        }
        NumberOfBuses = maxBus + 1;
        MaximumNumberOfTargets = maxTarget + 1;
        MaximumNumberOfLogicalUnits = maxLun + 1;
    }

    /// <summary>The timeout in seconds for requests that carry none (Storport's <c>IoTimeoutValue</c>); 0 uses the port default (10 s).</summary>
    public uint IoTimeoutValue { get; set; }
}
