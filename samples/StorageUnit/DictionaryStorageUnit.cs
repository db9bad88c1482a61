using System.Collections.Concurrent;
using StorSharp.Block;

namespace StorSharp.Samples;

/// <summary>A storage unit in the WinSpd style: Read, Write, Flush and Unmap by block, kept in a dictionary.</summary>
public sealed class DictionaryStorageUnit(long blockCount, int blockSize = 512) : IBlockDevice
{
    private readonly ConcurrentDictionary<long, byte[]> _blocks = new();

    public BlockGeometry Geometry { get; } = new(blockSize, blockCount);

    // Unmapped blocks read as zeros; CheckedBlockDevice emulates zeroing, FUA and extents from the rest.
    public BlockDeviceCapabilities Capabilities =>
        BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.ThinProvisioned;

    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < buffer.Length / blockSize; i++)
        {
            var block = buffer.Span.Slice(i * blockSize, blockSize);
            if (_blocks.TryGetValue(lba + i, out var data)) data.CopyTo(block); else block.Clear();
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < buffer.Length / blockSize; i++) _blocks[lba + i] = buffer.Slice(i * blockSize, blockSize).ToArray();
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        for (long i = 0; i < blockCount; i++) _blocks.TryRemove(lba + i, out _);
        return ValueTask.CompletedTask;
    }

    // Not declared in Capabilities, so CheckedBlockDevice never calls these two.
    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
