using StorSharp.Host.Configuration;
using StorSharp.Nvme;
using StorSharp.Optical;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Host;

/// <summary>
/// Makes the miniport registration for each kind of device (<see cref="LunSettings.Device"/>): the
/// host starts one adapter per kind in use, each with the miniport that serves those LUs, as
/// Storport loads one miniport per adapter.
/// </summary>
internal static class LunMiniports
{
    /// <summary>The registration of the miniport that serves <paramref name="luns"/>, all of kind <paramref name="device"/>.</summary>
    public static VirtualMiniportRegistration Create(LunDevice device, IReadOnlyList<ComposedLun> luns) => device switch
    {
        LunDevice.Disk => Disk(luns),
        LunDevice.Dvd => Dvd(luns),
        LunDevice.Nvme => Nvme(luns),
        _ => throw new ArgumentOutOfRangeException(nameof(device), device, "unknown device kind"),
    };

    private static VirtualMiniportRegistration Disk(IReadOnlyList<ComposedLun> luns) => ScsiDiskMiniport.CreateRegistration(
        luns.Select(l => new ScsiDiskDefinition(l.Address, l.Device)
        {
            ProductId = l.Settings.ProductId,
            SerialNumber = l.Settings.EffectiveSerial,
            Removable = l.Settings.Removable,
            ReadOnly = l.Settings.ReadOnly,
        }),
        // Room for LUNs added at run time (storsharp lun add): every target id, every LUN address.
        new ScsiDiskMiniportOptions { BusType = BusType(luns), MaximumNumberOfTargets = 255, MaximumNumberOfLogicalUnits = 255 });

    /// <summary>CD/DVD drives: each LUN's drive (<see cref="ComposedLun.Media"/>), loaded with its backend's image or empty (the drive's profile follows the image's size).</summary>
    private static VirtualMiniportRegistration Dvd(IReadOnlyList<ComposedLun> luns) => OpticalMiniport.CreateRegistration(
        luns.Select(l => new OpticalDriveDefinition(l.Address, l.Media?.Drive ?? new OpticalDrive(new OpticalDisc(l.Device)))
        {
            ProductId = l.Settings.ProductId,
            SerialNumber = l.Settings.EffectiveSerial,
        }),
        new ScsiDiskMiniportOptions { BusType = BusType(luns) });

    /// <summary>NVMe namespaces behind one virtual NVMe controller (bus type Nvme), one namespace per LU.</summary>
    private static VirtualMiniportRegistration Nvme(IReadOnlyList<ComposedLun> luns) => NvmeMiniport.CreateRegistration(
        luns.Select(l => new NvmeNamespaceDefinition(l.Address, l.Device)
        {
            ProductId = l.Settings.ProductId,
            SerialNumber = l.Settings.EffectiveSerial,
            ReadOnly = l.Settings.ReadOnly,
        }));

    /// <summary>FileBackedVirtual when any LU is stored in a file, else Virtual (Storport STORAGE_BUS_TYPE).</summary>
    private static StorageBusType BusType(IReadOnlyList<ComposedLun> luns) =>
        luns.Any(l => l.Settings.Backend is LunBackend.File or LunBackend.Image) ? StorageBusType.FileBackedVirtual : StorageBusType.Virtual;
}
