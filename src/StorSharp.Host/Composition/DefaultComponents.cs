using StorSharp.Block;
using StorSharp.Host.Configuration;
using StorSharp.Scsi;

namespace StorSharp.Host;

/// <summary>Wires the real block devices, miniport and front ends into <see cref="HostComponents"/>.</summary>
internal static class DefaultComponents
{
    public static HostComponents Create() => new()
    {
        OpenBlockDevice = OpenBlockDevice,
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
        CreateNbd = spec => new NbdFrontEnd(spec),
        CreateIscsi = spec => new IscsiFrontEnd(spec),
    };

    /// <summary>Opens a LUN's backend, wrapped in <c>CheckedBlockDevice</c> (and reported thick when <c>thin: false</c>).</summary>
    internal static IBlockDevice OpenBlockDevice(LunSettings lun)
    {
        IBlockDevice device = lun.Backend switch
        {
            LunBackend.Ram => new RamBlockDevice(lun.SizeBytes ?? throw new ArgumentException("a RAM LUN needs a size"), lun.BlockSize, lun.ReadOnly),
            _ when File.Exists(lun.Path) => FileBlockDevice.Open(lun.Path!, lun.BlockSize, lun.ReadOnly),
            _ when lun.Create && lun.SizeBytes is { } size => FileBlockDevice.Create(lun.Path!, size, lun.BlockSize),
            _ => throw new IOException($"{lun.Path} does not exist"),
        };
        if (!lun.Thin) device = new ThickBlockDevice(device);
        return new CheckedBlockDevice(device);
    }
}
