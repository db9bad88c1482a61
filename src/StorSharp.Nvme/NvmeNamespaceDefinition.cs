using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Nvme;

/// <summary>
/// One NVMe namespace an <see cref="NvmeMiniport"/> serves, and where hosts find it as a SCSI LU
/// (bus, target, LUN), as stornvme presents each namespace as a LUN.
/// </summary>
/// <param name="Address">Bus, target and LUN.</param>
/// <param name="Device">The block device holding the namespace's data (512- or 4096-byte blocks). The miniport does not dispose it.</param>
public sealed record NvmeNamespaceDefinition(ScsiAddress Address, IBlockDevice Device)
{
    /// <summary>The controller's model number as INQUIRY's product identification shows it (up to 16 ASCII characters).</summary>
    public string ProductId { get; init; } = "StorSharp NVMe";

    /// <summary>The firmware revision (INQUIRY product revision, up to 4 ASCII characters).</summary>
    public string ProductRevision { get; init; } = "1.0";

    /// <summary>The serial number (VPD page 80h); derived from the address when null.</summary>
    public string? SerialNumber { get; init; }

    /// <summary>Refuse writes (the namespace is write protected).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>The namespace's EUI-64 (8 bytes, VPD page 83h); derived from the namespace identifier when null.</summary>
    public byte[]? Eui64 { get; init; }
}

/// <summary>What the miniport does with a scatter/gather list that has no PRP form.</summary>
public enum PrpFallback
{
    /// <summary>Split the I/O into PRP-able pieces at the offending element boundaries when those fall on block boundaries; bounce otherwise.</summary>
    Split,
    /// <summary>Always copy through one page-aligned pooled buffer (copy in for writes, copy out for reads).</summary>
    Bounce,
}

/// <summary>Adapter-wide settings of an <see cref="NvmeMiniport"/>.</summary>
public sealed record NvmeMiniportOptions
{
    /// <summary>The host memory page size (CC.MPS), a power of two from 4096. Default 4 KiB.</summary>
    public int PageSize { get; init; } = 4096;

    /// <summary>What to do with a scatter/gather list that has no PRP form. Default <see cref="PrpFallback.Split"/>.</summary>
    public PrpFallback Fallback { get; init; } = PrpFallback.Split;

    /// <summary>The largest transfer of one request in bytes (FindAdapter's MaximumTransferLength and the controller's MDTS); at most 32 MiB (65536 blocks of 512 bytes).</summary>
    public int MaximumTransferLength { get; init; } = 8 * 1024 * 1024;

    /// <summary>The most scatter/gather elements one request may carry (Storport NumberOfPhysicalBreaks).</summary>
    public int NumberOfPhysicalBreaks { get; init; } = 256;

    /// <summary>The queue depth each LU starts with (1 to 255).</summary>
    public int DefaultQueueDepth { get; init; } = 250;
}
