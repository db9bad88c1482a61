using StorSharp.Block;

namespace StorSharp.Images.Vmdk;

/// <summary>
/// VMDK images (VMware Virtual Disk Format 1.1): monolithicSparse and twoGbMaxExtentSparse (read-write),
/// monolithicFlat, twoGbMaxExtentFlat and other FLAT/ZERO descriptors (read-write), streamOptimized
/// (read-only), delta disks over a parent (parentFileNameHint).
/// </summary>
public sealed class VmdkFormat : IDiskImageFormat
{
    /// <inheritdoc/>
    public string Name => "vmdk";

    /// <summary>A sparse extent starts with "KDMV"; a descriptor file with "# Disk DescriptorFile".</summary>
    public bool Probe(ReadOnlySpan<byte> head, long fileLength) =>
        head.StartsWith("KDMV"u8) || head.StartsWith("# Disk DescriptorFile"u8);

    /// <inheritdoc/>
    public async ValueTask<IBlockDevice> OpenAsync(string path, DiskImageOpenOptions options, CancellationToken cancellationToken = default) =>
        new CheckedBlockDevice(await VmdkDevice.OpenAsync(path, options, cancellationToken).ConfigureAwait(false));
}
