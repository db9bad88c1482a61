using StorSharp.Block;

namespace StorSharp.Images;

/// <summary>
/// One disk image format (raw, qcow2, VHD, VHDX, VMDK): how to recognise a file of that format from its
/// first bytes, and how to open it as a block device. <see cref="DiskImage"/> holds the list and picks
/// the format of a file.
/// </summary>
public interface IDiskImageFormat
{
    /// <summary>The format's name as users write it in configuration and as <c>qemu-img info</c> prints it
    /// (<c>raw</c>, <c>qcow2</c>, <c>vpc</c> is called <c>vhd</c> here, <c>vhdx</c>, <c>vmdk</c>).</summary>
    string Name { get; }

    /// <summary>
    /// True when <paramref name="head"/> (the file's first bytes, up to <see cref="DiskImage.ProbeLength"/>;
    /// fewer when the file is shorter) and <paramref name="fileLength"/> identify this format. Must not throw.
    /// Raw matches nothing here: it is the fallback.
    /// </summary>
    bool Probe(ReadOnlySpan<byte> head, long fileLength);

    /// <summary>
    /// Opens the image at <paramref name="path"/>. Header, tables and checksums are checked before it
    /// returns; a corrupt or truncated image throws <see cref="DiskImageException"/> saying what is wrong
    /// and where (file offset, field). A format or feature that cannot be written crash-consistently opens
    /// read-only when <paramref name="options"/> allows it, else throws saying why.
    /// </summary>
    ValueTask<IBlockDevice> OpenAsync(string path, DiskImageOpenOptions options, CancellationToken cancellationToken = default);
}

/// <summary>How to open a disk image.</summary>
public sealed record DiskImageOpenOptions
{
    /// <summary>Open read-only: nothing in the file (or a backing file) changes.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Logical block size the device reports: 512 (default) or 4096.</summary>
    public int LogicalBlockSize { get; init; } = 512;

    /// <summary>
    /// Opens a backing (parent) image named by a differencing/overlay image: qcow2 backing files, VHD
    /// differencing parents, VMDK parents. Defaults to <see cref="DiskImage.OpenAsync(string, DiskImageOpenOptions, CancellationToken)"/>
    /// with <see cref="ReadOnly"/> set; tests may replace it.
    /// </summary>
    public Func<string, DiskImageOpenOptions, CancellationToken, ValueTask<IBlockDevice>>? OpenBacking { get; init; }
}

/// <summary>A disk image is corrupt, truncated, of an unsupported version or uses an unsupported feature.
/// The message names the file, the structure and the offset.</summary>
public sealed class DiskImageException : Exception
{
    /// <summary>Creates the exception with a message that names the file and what is wrong.</summary>
    public DiskImageException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the I/O error that caused it.</summary>
    public DiskImageException(string message, Exception inner) : base(message, inner) { }
}
