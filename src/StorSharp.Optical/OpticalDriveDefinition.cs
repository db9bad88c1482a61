using StorSharp.Port;

namespace StorSharp.Optical;

/// <summary>One virtual CD/DVD drive an optical adapter serves: where it sits, the drive (tray and disc), and what INQUIRY reports.</summary>
/// <param name="Address">Bus, target and LUN.</param>
/// <param name="Drive">The drive; the caller keeps it to change discs at run time.</param>
public sealed record OpticalDriveDefinition(ScsiAddress Address, OpticalDrive Drive)
{
    /// <summary>T10 vendor identification, up to 8 ASCII characters.</summary>
    public string VendorId { get; init; } = "StorShrp";

    /// <summary>Product identification, up to 16 ASCII characters.</summary>
    public string ProductId { get; init; } = "Virtual DVD-ROM";

    /// <summary>Product revision level, up to 4 ASCII characters.</summary>
    public string ProductRevision { get; init; } = "1.0";

    /// <summary>The unit serial number (VPD page 80h); derived from vendor, product and address when null.</summary>
    public string? SerialNumber { get; init; }
}
