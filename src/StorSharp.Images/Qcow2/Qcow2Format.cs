using StorSharp.Block;

namespace StorSharp.Images.Qcow2;

/// <summary>
/// The qcow2 format (QEMU copy-on-write, versions 2 and 3): recognised by its magic, opened as a
/// <see cref="Qcow2BlockDevice"/>. Backing files are opened through <see cref="DiskImageOpenOptions.OpenBacking"/>.
/// </summary>
public sealed class Qcow2Format : IDiskImageFormat
{
    /// <summary>The one instance, listed in <see cref="DiskImage.Formats"/>.</summary>
    public static Qcow2Format Instance { get; } = new();

    /// <summary><c>qcow2</c>, as qemu-img names it.</summary>
    public string Name => "qcow2";

    /// <summary>True when the file starts with the qcow2 magic <c>QFI\xfb</c>.</summary>
    public bool Probe(ReadOnlySpan<byte> head, long fileLength) => Qcow2Header.Probe(head);

    /// <summary>
    /// Opens the image. Images marked dirty or corrupt, or with internal snapshots, open only read-only
    /// (<see cref="DiskImageOpenOptions.ReadOnly"/>); a writable open of them throws saying why.
    /// </summary>
    public async ValueTask<IBlockDevice> OpenAsync(string path, DiskImageOpenOptions options, CancellationToken cancellationToken = default) =>
        await Qcow2BlockDevice.OpenAsync(path, options, backing: null, ownsBacking: true, cancellationToken).ConfigureAwait(false);
}
