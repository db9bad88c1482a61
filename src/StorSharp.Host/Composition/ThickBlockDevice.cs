using StorSharp.Block;

namespace StorSharp.Host;

/// <summary>
/// Reports a device as fully provisioned (<c>thin: false</c>): hides thin provisioning and
/// unmap from the layers above (LBPME = 0, no UNMAP / TRIM), forwarding everything else.
/// </summary>
internal sealed class ThickBlockDevice(IBlockDevice inner) : IResizableBlockDevice
{
    private const BlockDeviceCapabilities Hidden = BlockDeviceCapabilities.ThinProvisioned | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes;

    public BlockGeometry Geometry => inner.Geometry;
    public bool CanGrow => inner is IResizableBlockDevice { CanGrow: true };
    public ValueTask GrowAsync(long blockCount, CancellationToken cancellationToken = default) =>
        inner is IResizableBlockDevice { CanGrow: true } r ? r.GrowAsync(blockCount, cancellationToken)
            : ValueTask.FromException(new BlockDeviceException(BlockError.NotSupported, "This backend cannot change its size."));
    public BlockDeviceCapabilities Capabilities => inner.Capabilities & ~Hidden;
    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(lba, buffer, cancellationToken);
    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default) => inner.WriteAsync(lba, buffer, flags, cancellationToken);
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) =>
        ValueTask.FromException(new BlockDeviceException(BlockError.NotSupported, "The LUN is fully provisioned (thin: false); it does not unmap."));
    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) =>
        inner.WriteZeroesAsync(lba, blockCount, flags & ~WriteZeroesFlags.MayUnmap, cancellationToken);
    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default) => inner.GetExtentsAsync(lba, blockCount, destination, cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
