using StorSharp.Block;
using StorSharp.Images.Mapped;

namespace StorSharp.Images.Vhd;

/// <summary>
/// VHD images (Microsoft Virtual PC / Hyper-V; qemu's "vpc"): fixed, dynamic and differencing (the parent
/// found through its parent locators and opened with <see cref="DiskImageOpenOptions.OpenBacking"/>), read-write.
/// </summary>
public sealed class VhdFormat : IDiskImageFormat, ITrailerProbe
{
    /// <inheritdoc/>
    public string Name => "vhd";

    /// <summary>A dynamic VHD starts with a copy of its footer ("conectix").</summary>
    public bool Probe(ReadOnlySpan<byte> head, long fileLength) => VhdFooter.LooksValid(head);

    bool ITrailerProbe.ProbeTrailer(ReadOnlySpan<byte> trailer, long fileLength) => VhdFooter.LooksValid(trailer);

    /// <inheritdoc/>
    public async ValueTask<IBlockDevice> OpenAsync(string path, DiskImageOpenOptions options, CancellationToken cancellationToken = default)
    {
        var file = ImageFile.Open(path, options.ReadOnly);
        try
        {
            var device = await VhdDevice.OpenAsync(file, options, cancellationToken).ConfigureAwait(false);
            return new CheckedBlockDevice(device);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }
}
