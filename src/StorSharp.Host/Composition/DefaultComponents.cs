using StorSharp.Block;
using StorSharp.Host.Configuration;
#if STORSHARP_HAS_SCSI
using StorSharp.Scsi;
#endif

namespace StorSharp.Host;

/// <summary>Wires the real block devices, miniport and front ends into <see cref="HostComponents"/>.</summary>
/// <remarks>
/// The STORSHARP_HAS_* symbols are defined by StorSharp.Host.csproj when the sibling projects hold
/// the types (they are built on other branches and merged into main one by one). Once all four are
/// in main the symbols are always defined and the conditions can go.
/// </remarks>
internal static class DefaultComponents
{
    public static HostComponents Create() => new()
    {
        OpenBlockDevice = OpenBlockDevice,
#if STORSHARP_HAS_SCSI
        CreateDiskMiniport = luns => ScsiDiskMiniport.CreateRegistration(
            luns.Select(l => new ScsiDiskDefinition(l.Address, l.Device)
            {
                ProductId = l.Settings.ProductId,
                SerialNumber = l.Settings.EffectiveSerial,
                Removable = l.Settings.Removable,
                ReadOnly = l.Settings.ReadOnly,
            }),
            new ScsiDiskMiniportOptions
            {
                BusType = luns.Any(l => l.Settings.Backend == LunBackend.File) ? StorSharp.Port.StorageBusType.FileBackedVirtual : StorSharp.Port.StorageBusType.Virtual,
            }),
#else
        CreateDiskMiniport = _ => throw new HostStartException("this build has no SCSI disk miniport (StorSharp.Scsi lacks ScsiDiskMiniport)"),
#endif
#if STORSHARP_HAS_NBD && STORSHARP_HAS_SCSI && STORSHARP_HAS_BLOCK
        CreateNbd = spec => new NbdFrontEnd(spec),
#else
        CreateNbd = null,
#endif
#if STORSHARP_HAS_ISCSI && STORSHARP_HAS_SCSI && STORSHARP_HAS_BLOCK
        CreateIscsi = spec => new IscsiFrontEnd(spec),
#else
        CreateIscsi = null,
#endif
    };

    /// <summary>Opens a LUN's backend, wrapped in <c>CheckedBlockDevice</c> (and reported thick when <c>thin: false</c>).</summary>
    internal static IBlockDevice OpenBlockDevice(LunSettings lun)
    {
#if STORSHARP_HAS_BLOCK
        IBlockDevice device = lun.Backend switch
        {
            LunBackend.Ram => new RamBlockDevice(lun.SizeBytes ?? throw new ArgumentException("a RAM LUN needs a size"), lun.BlockSize, lun.ReadOnly),
            _ when File.Exists(lun.Path) => FileBlockDevice.Open(lun.Path!, lun.BlockSize, lun.ReadOnly),
            _ when lun.Create && lun.SizeBytes is { } size => FileBlockDevice.Create(lun.Path!, size, lun.BlockSize),
            _ => throw new IOException($"{lun.Path} does not exist"),
        };
        if (!lun.Thin) device = new ThickBlockDevice(device);
        return new CheckedBlockDevice(device);
#else
        throw new HostStartException($"this build has no block devices (StorSharp.Block lacks RamBlockDevice); cannot open LUN {lun.Number}");
#endif
    }
}
