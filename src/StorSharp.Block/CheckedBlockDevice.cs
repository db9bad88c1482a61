namespace StorSharp.Block;

/// <summary>
/// The layer every backend sits under (nbdkit's backend layer, SPDK's bdev layer): it checks each
/// request before the backend sees it and emulates what the backend does not do natively, so a
/// backend can be as small as a read and a write.
/// </summary>
/// <remarks>
/// <para>Checks, all overflow-safe and all before the backend is called: the buffer must be a whole
/// number of blocks and counts must not be negative (<see cref="BlockError.InvalidArgument"/>);
/// the range must lie inside the device (<see cref="BlockError.OutOfRange"/>, message naming the
/// LBA, the count and the device size); writes, unmaps and zeroing are refused on a read-only
/// device (<see cref="BlockError.ReadOnly"/>); unknown flag bits are refused. Zero-length requests
/// succeed without reaching the backend. Failures come back as faulted tasks, never as exceptions
/// thrown by the call itself.</para>
/// <para>Emulation: FUA becomes write then flush; zeroing becomes an unmap (when the caller allows
/// it and unmapped blocks read as zeros) or writes of zeros in chunks of at most 1 MiB; unmap on a
/// backend without it does nothing (it is advisory, SBC-4 5.31 and NBD TRIM alike); flush on a
/// backend that caches nothing does nothing; extents without a native map are one data extent.</para>
/// <para>Reads and writes that need no emulation return the backend's own <see cref="ValueTask"/>:
/// over a synchronous backend such as <see cref="RamBlockDevice"/> they allocate nothing.</para>
/// <para>The backend's geometry and capabilities are read once, at construction: they must not change, except through <see cref="GrowAsync"/>.</para>
/// </remarks>
public sealed class CheckedBlockDevice : IResizableBlockDevice
{
    private readonly IBlockDevice _inner;
    private readonly bool _leaveOpen;
    private BlockGeometry _geometry;
    private readonly BlockDeviceCapabilities _innerCapabilities;
    private readonly BlockDeviceCapabilities _capabilities;
    private int _disposed;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The backend; its geometry must have a positive block size.</param>
    /// <param name="leaveOpen">When true, disposing this device leaves <paramref name="inner"/> open.</param>
    /// <exception cref="ArgumentException">The backend's geometry is unusable.</exception>
    public CheckedBlockDevice(IBlockDevice inner, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _leaveOpen = leaveOpen;
        _geometry = inner.Geometry;
        if (_geometry.LogicalBlockSize <= 0 || _geometry.BlockCount < 0)
            throw new ArgumentException($"The backend reports an unusable geometry: {_geometry}.", nameof(inner));
        _innerCapabilities = inner.Capabilities;
        _capabilities = Effective(_innerCapabilities);
    }

    /// <summary>True when the backend can grow (<see cref="IResizableBlockDevice"/>).</summary>
    public bool CanGrow => _inner is IResizableBlockDevice { CanGrow: true };

    /// <summary>Grows the backend and takes its new geometry. The caller holds the device's I/O meanwhile.</summary>
    /// <inheritdoc cref="IResizableBlockDevice.GrowAsync"/>
    public async ValueTask GrowAsync(long blockCount, CancellationToken cancellationToken = default)
    {
        if (_inner is not IResizableBlockDevice { CanGrow: true } resizable)
            throw new BlockDeviceException(BlockError.NotSupported, "This backend cannot change its size.");
        await resizable.GrowAsync(blockCount, cancellationToken).ConfigureAwait(false);
        _geometry = _inner.Geometry;
    }

    /// <summary>The backend this layer checks and completes.</summary>
    public IBlockDevice Inner => _inner;

    /// <inheritdoc/>
    public BlockGeometry Geometry => _geometry;

    /// <summary>
    /// What callers can rely on through this layer: the backend's capabilities plus
    /// <see cref="BlockDeviceCapabilities.WriteZeroes"/>, <see cref="BlockDeviceCapabilities.Extents"/>
    /// and <see cref="BlockDeviceCapabilities.ForceUnitAccess"/>, which are always honoured (natively
    /// or by emulation). <see cref="BlockDeviceCapabilities.Unmap"/> is reported only when the
    /// backend really deallocates: advertising a no-op unmap would mislead thin-provisioning hosts.
    /// On a read-only backend the write-side capabilities are removed. <see cref="Inner"/> tells
    /// what is native.
    /// </summary>
    public BlockDeviceCapabilities Capabilities => _capabilities;

    private bool IsReadOnly => Has(BlockDeviceCapabilities.ReadOnly);

    /// <inheritdoc/>
    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBuffer(BlockRange.Read, lba, buffer.Length, _geometry, out long blockCount);
        if (error is not null)
            return ValueTask.FromException(error);
        if (blockCount == 0)
            return default;
        return _inner.ReadAsync(lba, buffer, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        if ((flags & ~BlockWriteFlags.ForceUnitAccess) != 0)
            return ValueTask.FromException(UnknownFlags(BlockRange.Write, (int)flags));
        BlockDeviceException? error = BlockRange.CheckBuffer(BlockRange.Write, lba, buffer.Length, _geometry, out long blockCount);
        if (error is not null)
            return ValueTask.FromException(error);
        if (IsReadOnly)
            return ValueTask.FromException(BlockRange.ReadOnly(BlockRange.Write, lba, blockCount));
        if (blockCount == 0)
            return default;
        if (flags == BlockWriteFlags.None || Has(BlockDeviceCapabilities.ForceUnitAccess))
            return _inner.WriteAsync(lba, buffer, flags, cancellationToken);
        // A backend that does not declare Flush caches nothing: its writes are durable when they
        // complete, so FUA asks for nothing more.
        if (!Has(BlockDeviceCapabilities.Flush))
            return _inner.WriteAsync(lba, buffer, BlockWriteFlags.None, cancellationToken);
        return WriteThenFlushAsync(lba, buffer, cancellationToken);
    }

    private async ValueTask WriteThenFlushAsync(long lba, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await _inner.WriteAsync(lba, buffer, BlockWriteFlags.None, cancellationToken).ConfigureAwait(false);
        await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        Has(BlockDeviceCapabilities.Flush) ? _inner.FlushAsync(cancellationToken) : default;

    /// <inheritdoc/>
    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBlocks(BlockRange.Unmap, lba, blockCount, _geometry);
        if (error is not null)
            return ValueTask.FromException(error);
        if (IsReadOnly)
            return ValueTask.FromException(BlockRange.ReadOnly(BlockRange.Unmap, lba, blockCount));
        if (blockCount == 0 || !Has(BlockDeviceCapabilities.Unmap))
            return default;
        return _inner.UnmapAsync(lba, blockCount, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default)
    {
        const WriteZeroesFlags known = WriteZeroesFlags.MayUnmap | WriteZeroesFlags.ForceUnitAccess | WriteZeroesFlags.FastOnly;
        if ((flags & ~known) != 0)
            return ValueTask.FromException(UnknownFlags(BlockRange.WriteZeroes, (int)flags));
        BlockDeviceException? error = BlockRange.CheckBlocks(BlockRange.WriteZeroes, lba, blockCount, _geometry);
        if (error is not null)
            return ValueTask.FromException(error);
        if (IsReadOnly)
            return ValueTask.FromException(BlockRange.ReadOnly(BlockRange.WriteZeroes, lba, blockCount));
        if (blockCount == 0)
            return default;

        bool fua = (flags & WriteZeroesFlags.ForceUnitAccess) != 0;
        bool nativeFua = Has(BlockDeviceCapabilities.ForceUnitAccess);
        bool canFlush = Has(BlockDeviceCapabilities.Flush);

        if (Has(BlockDeviceCapabilities.WriteZeroes))
        {
            if (!fua || nativeFua)
                return _inner.WriteZeroesAsync(lba, blockCount, flags, cancellationToken);
            WriteZeroesFlags plain = flags & ~WriteZeroesFlags.ForceUnitAccess;
            return canFlush
                ? NativeZeroesThenFlushAsync(lba, blockCount, plain, cancellationToken)
                : _inner.WriteZeroesAsync(lba, blockCount, plain, cancellationToken);
        }

        // Unmapped blocks read as zeros, so when the caller lets us deallocate (WRITE SAME with
        // UNMAP, NBD WRITE_ZEROES without NO_HOLE) an unmap is a fast, exact zeroing.
        const BlockDeviceCapabilities unmapZeroes = BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes;
        if ((flags & WriteZeroesFlags.MayUnmap) != 0 && (_innerCapabilities & unmapZeroes) == unmapZeroes)
            return UnmapAsZeroesAsync(lba, blockCount, fua && canFlush, cancellationToken);

        if ((flags & WriteZeroesFlags.FastOnly) != 0)
            return ValueTask.FromException(new BlockDeviceException(BlockError.NotSupported,
                $"{BlockRange.WriteZeroes} of {blockCount} block(s) at LBA {lba}: the backend cannot zero quickly and FastOnly forbids writing zeros."));

        BlockWriteFlags writeFlags = fua && nativeFua ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None;
        return WriteZerosAsync(lba, blockCount, writeFlags, fua && !nativeFua && canFlush, cancellationToken);
    }

    private async ValueTask NativeZeroesThenFlushAsync(long lba, long blockCount, WriteZeroesFlags flags, CancellationToken cancellationToken)
    {
        await _inner.WriteZeroesAsync(lba, blockCount, flags, cancellationToken).ConfigureAwait(false);
        await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask UnmapAsZeroesAsync(long lba, long blockCount, bool flush, CancellationToken cancellationToken)
    {
        await _inner.UnmapAsync(lba, blockCount, cancellationToken).ConfigureAwait(false);
        if (flush)
            await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask WriteZerosAsync(long lba, long blockCount, BlockWriteFlags writeFlags, bool flush, CancellationToken cancellationToken)
    {
        await ZeroWriter.WriteAsync(_inner, lba, blockCount, writeFlags, cancellationToken).ConfigureAwait(false);
        if (flush)
            await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// A backend's answer is checked too: it must start at <paramref name="lba"/>, be consecutive,
    /// with positive counts and known flags, else the request fails with
    /// <see cref="BlockError.MediumError"/>. Extents reaching past the requested range are cut at
    /// its end (NBD lets servers overshoot; callers here are promised the exact range).
    /// </remarks>
    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBlocks(BlockRange.GetExtents, lba, blockCount, _geometry);
        if (error is not null)
            return ValueTask.FromException<int>(error);
        if (blockCount == 0)
            return new ValueTask<int>(0);
        if (destination.IsEmpty)
            return ValueTask.FromException<int>(new BlockDeviceException(BlockError.InvalidArgument,
                $"{BlockRange.GetExtents} of {blockCount} block(s) at LBA {lba}: the destination holds no extent."));
        if (!Has(BlockDeviceCapabilities.Extents))
        {
            // Without a map every block may hold data: "allocated" is always a truthful answer.
            destination.Span[0] = new BlockExtent(lba, blockCount, BlockExtentFlags.Data);
            return new ValueTask<int>(1);
        }

        ValueTask<int> pending = _inner.GetExtentsAsync(lba, blockCount, destination, cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            try
            {
                return new ValueTask<int>(ExtentAnswer.Validate(lba, blockCount, destination.Span, pending.Result));
            }
            catch (BlockDeviceException e)
            {
                return ValueTask.FromException<int>(e);
            }
        }
        return ValidateLaterAsync(lba, blockCount, destination, pending);
    }

    private static async ValueTask<int> ValidateLaterAsync(long lba, long blockCount, Memory<BlockExtent> destination, ValueTask<int> pending)
    {
        int count = await pending.ConfigureAwait(false);
        return ExtentAnswer.Validate(lba, blockCount, destination.Span, count);
    }

    /// <summary>Disposes the backend unless the device was built with <c>leaveOpen</c>; only the first call does anything.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || _leaveOpen)
            return default;
        return _inner.DisposeAsync();
    }

    private bool Has(BlockDeviceCapabilities capability) => (_innerCapabilities & capability) != 0;

    private static BlockDeviceCapabilities Effective(BlockDeviceCapabilities inner)
    {
        if ((inner & BlockDeviceCapabilities.ReadOnly) != 0)
            return DeviceShape.AsReadOnly(inner) | BlockDeviceCapabilities.Extents;
        if ((inner & BlockDeviceCapabilities.Unmap) == 0)
            inner &= ~BlockDeviceCapabilities.UnmapReadsZeroes;
        return inner | BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ForceUnitAccess;
    }

    private static BlockDeviceException UnknownFlags(string operation, int flags) =>
        new(BlockError.InvalidArgument, $"{operation}: unknown flag bits 0x{flags:X}.");
}
