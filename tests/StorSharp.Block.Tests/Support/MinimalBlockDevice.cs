namespace StorSharp.Block.Tests;

/// <summary>
/// The smallest possible backend: an array of bytes that can be read and written, nothing else.
/// Every other call throws, so a test passes through it only if the checked layer emulated the
/// operation instead of forwarding it.
/// </summary>
public sealed class MinimalBlockDevice(long blockCount, int blockSize) : IBlockDevice
{
    private readonly byte[] _bytes = new byte[checked(blockCount * blockSize)];

    public BlockGeometry Geometry { get; } = new(blockSize, blockCount);

    public BlockDeviceCapabilities Capabilities => BlockDeviceCapabilities.None;

    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _bytes.AsSpan(checked((int)(lba * blockSize)), buffer.Length).CopyTo(buffer.Span);
        return default;
    }

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        buffer.Span.CopyTo(_bytes.AsSpan(checked((int)(lba * blockSize)), buffer.Length));
        return default;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => throw Unsupported();

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) => throw Unsupported();

    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) =>
        throw Unsupported();

    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default) =>
        throw Unsupported();

    public ValueTask DisposeAsync() => default;

    private static InvalidOperationException Unsupported() => new("The minimal backend only reads and writes.");
}
