using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Scsi;

/// <summary>
/// One SCSI disk a <see cref="ScsiDiskMiniport"/> serves: where it sits (bus, target, LUN), the
/// block device behind it, and what INQUIRY reports about it.
/// </summary>
/// <param name="Address">Bus, target and LUN.</param>
/// <param name="Device">The block device holding the data. The miniport does not dispose it.</param>
public sealed record ScsiDiskDefinition(ScsiAddress Address, IBlockDevice Device)
{
    /// <summary>T10 vendor identification, up to 8 ASCII characters (INQUIRY bytes 8-15). "StorSharp" has 9, so the default is <c>StorShrp</c>.</summary>
    public string VendorId { get; init; } = "StorShrp";

    /// <summary>Product identification, up to 16 ASCII characters.</summary>
    public string ProductId { get; init; } = "Virtual Disk";

    /// <summary>Product revision level, up to 4 ASCII characters.</summary>
    public string ProductRevision { get; init; } = "1.0";

    /// <summary>
    /// The unit serial number (VPD page 80h), printable ASCII. When null one is derived from the
    /// vendor, product and address, so it is stable across restarts for the same definition.
    /// </summary>
    public string? SerialNumber { get; init; }

    /// <summary>
    /// The LU's NAA identifier (VPD page 83h), 8 or 16 bytes, first nibble the NAA type. When null a
    /// locally assigned NAA 3h identifier is derived from the vendor and serial number, so every
    /// path to the same definition reports the same identity (multipath sees one LU).
    /// </summary>
    public byte[]? NaaIdentifier { get; init; }

    /// <summary>The RMB bit: the medium can be removed (START STOP UNIT with LOEJ, PREVENT ALLOW MEDIUM REMOVAL).</summary>
    public bool Removable { get; init; }

    /// <summary>Refuse writes with DATA PROTECT / WRITE PROTECTED, even when the device could write. A device whose capabilities say ReadOnly is write-protected regardless.</summary>
    public bool ReadOnly { get; init; }
}

/// <summary>Adapter-wide settings of a <see cref="ScsiDiskMiniport"/>.</summary>
public sealed record ScsiDiskMiniportOptions
{
    /// <summary>The bus type FindAdapter reports (Storport <c>BusType</c>): <see cref="StorageBusType.Virtual"/> by default; <see cref="StorageBusType.FileBackedVirtual"/> suits disks backed by files.</summary>
    public StorageBusType BusType { get; init; } = StorageBusType.Virtual;

    /// <summary>The largest transfer one request may carry, in bytes (FindAdapter's MaximumTransferLength; VPD B0h reports it in blocks).</summary>
    public int MaximumTransferLength { get; init; } = 8 * 1024 * 1024;

    /// <summary>The queue depth each LU starts with (1 to 255).</summary>
    public int DefaultQueueDepth { get; init; } = 250;

    /// <summary>Report sense data in descriptor format (D_SENSE = 1 in the control mode page) from the start.</summary>
    public bool DescriptorSense { get; init; }

    /// <summary>
    /// Give every I_T nexus a POWER ON, RESET unit attention the first time it meets an LU (SAM-5
    /// §6.3.1), as a real disk after power-on does. StorSharp's own nexus (<see cref="InitiatorNexus.Local"/>) never gets unit attentions.
    /// </summary>
    public bool PowerOnUnitAttention { get; init; } = true;

    /// <summary>
    /// The targets FindAdapter reports at least (MaximumNumberOfTargets, 1 to 255): room for LUs
    /// added at run time (<see cref="ScsiDiskMiniport.AddUnit"/>) on targets that have none at start.
    /// 0: just enough for the disks defined.
    /// </summary>
    public int MaximumNumberOfTargets { get; init; }

    /// <summary>
    /// The LUNs per target FindAdapter reports at least (MaximumNumberOfLogicalUnits, 1 to 255): room
    /// for LUs added at run time. 0: just enough for the disks defined.
    /// </summary>
    public int MaximumNumberOfLogicalUnits { get; init; }
}
