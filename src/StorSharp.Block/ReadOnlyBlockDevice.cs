namespace StorSharp.Block;

/// <summary>
/// Presents another device read-only: reads, flushes and extents pass through; writes, unmaps and
/// zeroing fail with <see cref="BlockError.ReadOnly"/> without reaching the inner device. Useful to
/// export a golden image or a device that another export writes (SCSI write-protect, NBD
/// <c>NBD_FLAG_READ_ONLY</c>).
/// </summary>
/// <remarks>It does not check ranges; put a <see cref="CheckedBlockDevice"/> above it.</remarks>
public sealed class ReadOnlyBlockDevice : IBlockDevice
{
    private readonly IBlockDevice _inner;
    private readonly bool _leaveOpen;
    private int _disposed;

    /// <summary>Wraps <paramref name="inner"/> read-only.</summary>
    /// <param name="inner">The device to expose; it is never written through this wrapper.</param>
    /// <param name="leaveOpen">When true, disposing this wrapper leaves <paramref name="inner"/> open.</param>
    public ReadOnlyBlockDevice(IBlockDevice inner, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _leaveOpen = leaveOpen;
        Capabilities = DeviceShape.AsReadOnly(inner.Capabilities);
    }

    /// <inheritdoc/>
    public BlockGeometry Geometry => _inner.Geometry;

    /// <summary>
    /// The inner device's capabilities with <see cref="BlockDeviceCapabilities.ReadOnly"/> added and
    /// unmap, zeroing and FUA removed (none of them can be used).
    /// </summary>
    public BlockDeviceCapabilities Capabilities { get; }

    /// <inheritdoc/>
    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.ReadAsync(lba, buffer, cancellationToken);

    /// <summary>Always fails with <see cref="BlockError.ReadOnly"/>.</summary>
    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default) =>
        ValueTask.FromException(BlockRange.ReadOnly(BlockRange.Write, lba, buffer.Length / Math.Max(1, Geometry.LogicalBlockSize)));

    /// <summary>Passes through: flushing writes made by others is harmless and may be wanted.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);

    /// <summary>Always fails with <see cref="BlockError.ReadOnly"/>.</summary>
    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) =>
        ValueTask.FromException(BlockRange.ReadOnly(BlockRange.Unmap, lba, blockCount));

    /// <summary>Always fails with <see cref="BlockError.ReadOnly"/>.</summary>
    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) =>
        ValueTask.FromException(BlockRange.ReadOnly(BlockRange.WriteZeroes, lba, blockCount));

    /// <inheritdoc/>
    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default) =>
        _inner.GetExtentsAsync(lba, blockCount, destination, cancellationToken);

    /// <summary>Disposes the inner device unless built with <c>leaveOpen</c>; only the first call does anything.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || _leaveOpen)
            return default;
        return _inner.DisposeAsync();
    }
}
