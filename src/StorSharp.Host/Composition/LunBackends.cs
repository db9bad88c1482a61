using StorSharp.Block;
using StorSharp.Host.Configuration;
using StorSharp.Images;

namespace StorSharp.Host;

/// <summary>
/// Opens the block device behind a LUN from its <see cref="LunSettings.Backend"/>: one method per
/// backend kind. Every device is wrapped in <see cref="CheckedBlockDevice"/> (and reported fully
/// provisioned when <c>thin: false</c>).
/// </summary>
internal static class LunBackends
{
    /// <summary>Opens (or creates) the LUN's block device.</summary>
    /// <exception cref="IOException">A file cannot be opened or created.</exception>
    /// <exception cref="DiskImageException">An image is corrupt, truncated or unsupported.</exception>
    /// <exception cref="BlockDeviceException">The device's shape is invalid (for example a file that is not a whole number of blocks).</exception>
    public static async ValueTask<IBlockDevice> OpenAsync(LunSettings lun, CancellationToken cancellationToken)
    {
        IBlockDevice device = lun.Backend switch
        {
            LunBackend.Ram => OpenRam(lun),
            LunBackend.File => OpenFile(lun),
            LunBackend.Image => await OpenImageAsync(lun, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentOutOfRangeException(nameof(lun), lun.Backend, "unknown backend"),
        };
        if (!lun.Thin) device = new ThickBlockDevice(device);
        return new CheckedBlockDevice(device);
    }

    /// <summary>What a LUN's backend is, for messages: "a 1073741824-byte RAM disk", "the file x.img", "the image x.qcow2".</summary>
    public static string Describe(LunSettings lun) => lun.Backend switch
    {
        LunBackend.Ram => $"a {lun.SizeBytes}-byte RAM disk",
        LunBackend.File => $"the file {lun.Path}",
        LunBackend.Image => $"the image {lun.Path}",
        _ => lun.Backend.ToString(),
    };

    private static RamBlockDevice OpenRam(LunSettings lun) =>
        new(lun.SizeBytes ?? throw new ArgumentException("a RAM LUN needs a size"), lun.BlockSize, lun.ReadOnly);

    private static FileBlockDevice OpenFile(LunSettings lun) => lun switch
    {
        _ when File.Exists(lun.Path) => FileBlockDevice.Open(lun.Path!, lun.BlockSize, lun.ReadOnly),
        { Create: true, SizeBytes: { } size } => FileBlockDevice.Create(lun.Path!, size, lun.BlockSize),
        _ => throw new IOException($"{lun.Path} does not exist"),
    };

    private static ValueTask<IBlockDevice> OpenImageAsync(LunSettings lun, CancellationToken cancellationToken) =>
        DiskImage.OpenAsync(lun.Path!, lun.Format, new DiskImageOpenOptions { ReadOnly = lun.ReadOnly, LogicalBlockSize = lun.BlockSize }, cancellationToken);
}
