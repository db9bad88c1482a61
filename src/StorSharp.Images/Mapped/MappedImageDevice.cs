using System.Runtime.CompilerServices;
using StorSharp.Block;

namespace StorSharp.Images.Mapped;

/// <summary>
/// The mechanism VHD, VHDX and VMDK share: guest bytes are looked up in the format's tables
/// (<see cref="MapAsync"/>, one run at a time) and then read from the file, filled with zeros or read
/// from the backing image. Writes to stored runs go in place; writes to unallocated runs go to the
/// format's <see cref="WriteUnallocatedAsync"/>, which allocates in its crash-safe order.
/// </summary>
/// <remarks>
/// Range checks and emulation (zeroing by writes, FUA by flush) are left to the
/// <see cref="CheckedBlockDevice"/> each format puts on top. Table lookups are in memory; only data
/// moves through the file, straight into the caller's buffer.
/// </remarks>
internal abstract class MappedImageDevice : IBlockDevice
{
    private readonly IBlockDevice? _backing;

    /// <summary>True when unallocated runs read from a backing image.</summary>
    protected bool HasBacking => _backing is not null;
    private int _disposed;

    protected MappedImageDevice(long sizeBytes, int logicalBlockSize, bool readOnly, bool thin, IBlockDevice? backing)
    {
        Geometry = new BlockGeometry(logicalBlockSize, sizeBytes / logicalBlockSize);
        _backing = backing;
        // Only sparse images have a map of their own; a fixed VHD or flat VMDK is one data extent (the checking layer says so).
        var capabilities = BlockDeviceCapabilities.MultiConnection;
        if (thin) capabilities |= BlockDeviceCapabilities.ThinProvisioned | BlockDeviceCapabilities.Extents;
        capabilities |= readOnly ? BlockDeviceCapabilities.ReadOnly : BlockDeviceCapabilities.Flush;
        Capabilities = capabilities;
    }

    public BlockGeometry Geometry { get; }

    public BlockDeviceCapabilities Capabilities { get; }

    /// <summary>The mapping of the guest bytes from <paramref name="offset"/>: a run of at most <paramref name="maxLength"/> bytes, at least 512.</summary>
    protected abstract ValueTask<ImageRun> MapAsync(long offset, long maxLength, CancellationToken cancellationToken);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>, which <see cref="MapAsync"/> found unallocated (or zero):
    /// the format allocates (or finds that a concurrent write did) and writes. The data never crosses an allocation unit.</summary>
    protected abstract ValueTask WriteUnallocatedAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Called before a write goes in place into a stored run (VHD uses it to mark the block's sectors present).</summary>
    protected virtual ValueTask BeforeInPlaceWriteAsync(long offset, CancellationToken cancellationToken) => default;

    /// <summary>Reads guest bytes of a compressed unit; only formats that produce <see cref="ImageRunKind.Compressed"/> runs override it.</summary>
    protected virtual ValueTask ReadCompressedAsync(ImageRun run, Memory<byte> destination, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    /// <summary>The largest write handed to <see cref="WriteUnallocatedAsync"/> at once, from <paramref name="offset"/>: up to the end of its allocation unit.</summary>
    protected abstract long UnitRemaining(long offset);

    /// <summary>Makes the file(s) durable.</summary>
    protected abstract ValueTask FlushFilesAsync(CancellationToken cancellationToken);

    /// <summary>Closes the file(s).</summary>
    protected abstract void CloseFiles();

    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ReadBytesAsync(lba * Geometry.LogicalBlockSize, buffer, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadBytesAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            ImageRun run = await MapAsync(offset, buffer.Length, cancellationToken).ConfigureAwait(false);
            int n = (int)Math.Min(run.Length, buffer.Length);
            Memory<byte> part = buffer[..n];
            switch (run.Kind)
            {
                case ImageRunKind.Data:
                    await run.File!.ReadDataAsync(run.FileOffset, part, cancellationToken).ConfigureAwait(false);
                    break;
                case ImageRunKind.Backing:
                    await ReadBackingAsync(offset, part, cancellationToken).ConfigureAwait(false);
                    break;
                case ImageRunKind.Compressed:
                    await ReadCompressedAsync(run, part, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    part.Span.Clear();
                    break;
            }
            offset += n;
            buffer = buffer[n..];
        }
    }

    protected async ValueTask ReadBackingAsync(long offset, Memory<byte> part, CancellationToken cancellationToken)
    {
        // The backing is opened with 512-byte blocks; past its end the child reads zeros.
        long backingSize = _backing!.Geometry.SizeBytes;
        int inside = (int)Math.Clamp(backingSize - offset, 0, part.Length);
        if (inside > 0)
            await _backing.ReadAsync(offset / _backing.Geometry.LogicalBlockSize, part[..inside], cancellationToken).ConfigureAwait(false);
        part.Span[inside..].Clear();
    }

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        if (Capabilities.HasFlag(BlockDeviceCapabilities.ReadOnly))
            return ValueTask.FromException(new BlockDeviceException(BlockError.ReadOnly, $"Write at LBA {lba} refused: the image is open read-only."));
        return WriteBytesAsync(lba * Geometry.LogicalBlockSize, buffer, flags, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteBytesAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            ImageRun run = await MapAsync(offset, buffer.Length, cancellationToken).ConfigureAwait(false);
            int n;
            if (run.Kind == ImageRunKind.Data)
            {
                n = (int)Math.Min(run.Length, buffer.Length);
                await BeforeInPlaceWriteAsync(offset, cancellationToken).ConfigureAwait(false);
                await run.File!.WriteAsync(run.FileOffset, buffer[..n], cancellationToken).ConfigureAwait(false);
            }
            else
            {
                n = (int)Math.Min(UnitRemaining(offset), buffer.Length);
                await WriteUnallocatedAsync(offset, buffer[..n], cancellationToken).ConfigureAwait(false);
            }
            offset += n;
            buffer = buffer[n..];
        }
        if ((flags & BlockWriteFlags.ForceUnitAccess) != 0)
            await FlushFilesAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => FlushFilesAsync(cancellationToken);

    /// <summary>Not native: <see cref="CheckedBlockDevice"/> treats unmap as advisory.</summary>
    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) => default;

    /// <summary>Not native: <see cref="CheckedBlockDevice"/> writes zeros instead.</summary>
    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) =>
        ValueTask.FromException(new BlockDeviceException(BlockError.NotSupported, "Native zeroing is not supported by this image format."));

    public async ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        int blockSize = Geometry.LogicalBlockSize;
        long next = lba, end = lba + blockCount;
        int count = 0;
        while (next < end)
        {
            long offset = next * blockSize;
            ImageRun run = await MapAsync(offset, (end - next) * blockSize, cancellationToken).ConfigureAwait(false);
            long blocks = Math.Min(run.Length / blockSize, end - next);
            var flags = run.Kind switch
            {
                ImageRunKind.Unallocated => BlockExtentFlags.Hole | BlockExtentFlags.Zero,
                ImageRunKind.Zero => BlockExtentFlags.Zero,
                _ => BlockExtentFlags.Data,
            };
            if (blocks == 0)
            {
                // A run shorter than one logical block (512-byte maps under 4096-byte blocks): the block is reported as data.
                blocks = 1;
                flags = BlockExtentFlags.Data;
            }
            var span = destination.Span;
            if (count > 0 && span[count - 1].Flags == flags)
                span[count - 1] = span[count - 1] with { BlockCount = span[count - 1].BlockCount + blocks };
            else if (count == span.Length)
                break;
            else
                span[count++] = new BlockExtent(next, blocks, flags);
            next += blocks;
        }
        return count;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        CloseFiles();
        if (_backing is not null) await _backing.DisposeAsync().ConfigureAwait(false);
    }
}
