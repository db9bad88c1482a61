using StorSharp.Block;
using StorSharp.Images.Mapped;

namespace StorSharp.Images.Vhdx;

/// <summary>
/// VHDX images (Hyper-V, MS-VHDX): fixed and dynamic, read-write. Differencing VHDX and images whose log
/// still holds unapplied updates are refused with a message saying so.
/// </summary>
public sealed class VhdxFormat : IDiskImageFormat
{
    /// <inheritdoc/>
    public string Name => "vhdx";

    /// <summary>A VHDX starts with the file type identifier "vhdxfile".</summary>
    public bool Probe(ReadOnlySpan<byte> head, long fileLength) => head.StartsWith("vhdxfile"u8);

    /// <inheritdoc/>
    public async ValueTask<IBlockDevice> OpenAsync(string path, DiskImageOpenOptions options, CancellationToken cancellationToken = default)
    {
        var file = ImageFile.Open(path, options.ReadOnly);
        try
        {
            return new CheckedBlockDevice(await VhdxDevice.OpenAsync(file, options, cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }
}
