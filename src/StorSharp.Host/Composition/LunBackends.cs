using StorSharp.Block;
using StorSharp.Host.Configuration;
using StorSharp.Images;
using StorSharp.Nbd.Client;

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
    /// <exception cref="BlockDeviceException">The device's shape is invalid (for example a file that is not a whole number of blocks), or an NBD export cannot be reached.</exception>
    public static async ValueTask<IBlockDevice> OpenAsync(LunSettings lun, CancellationToken cancellationToken)
    {
        IBlockDevice device = lun.Backend switch
        {
            LunBackend.Ram => OpenRam(lun),
            LunBackend.File => OpenFile(lun),
            LunBackend.Image => await OpenImageAsync(lun, cancellationToken).ConfigureAwait(false),
            LunBackend.Nbd => await OpenNbdAsync(lun, cancellationToken).ConfigureAwait(false),
            LunBackend.None => throw new ArgumentException("an empty drive (backend: none) has no block device to open"),
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
        LunBackend.Nbd => $"the NBD export {lun.Uri}",
        LunBackend.None => "no disc (an empty drive)",
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

    /// <summary>
    /// Connects to the remote export (the first connection is made now, so a server that is not
    /// there fails the start); connection events go to standard error.
    /// </summary>
    private static async ValueTask<IBlockDevice> OpenNbdAsync(LunSettings lun, CancellationToken cancellationToken)
    {
        var reconnect = lun.Reconnect ?? new NbdReconnectSettings();
        var options = new NbdClientOptions
        {
            Address = NbdServerAddress.Parse(lun.Uri!),
            BlockSize = lun.BlockSize,
            RequestTimeout = lun.Timeout ?? TimeSpan.FromSeconds(30),
            Reconnect = new NbdReconnectPolicy
            {
                Enabled = reconnect.Enabled,
                InitialDelay = reconnect.Delay,
                MaxDelay = reconnect.MaxDelay,
                MaxAttempts = reconnect.Attempts,
                MaxTime = reconnect.MaxTime,
                RequestWait = reconnect.Wait,
            },
        };
        string name = $"LUN {lun.Number} of {lun.Target}";
        IBlockDevice device = await NbdBlockDevice.ConnectAsync(options, line => Console.Error.WriteLine($"storsharp: {name}: {line}"), cancellationToken).ConfigureAwait(false);
        return lun.ReadOnly ? new ReadOnlyBlockDevice(device) : device;
    }
}
