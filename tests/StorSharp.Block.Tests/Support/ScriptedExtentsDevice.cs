namespace StorSharp.Block.Tests;

/// <summary>
/// A backend whose extent answer is scripted, right or wrong, to test what the checked layer
/// does with it. It can answer synchronously or after yielding; reads return zeros, writes vanish.
/// </summary>
public sealed class ScriptedExtentsDevice(BlockExtent[] answer, int? reportedCount = null, bool yields = false, BlockGeometry? geometry = null) : IBlockDevice
{
    public BlockGeometry Geometry { get; } = geometry ?? new BlockGeometry(512, 1000);

    public BlockDeviceCapabilities Capabilities => BlockDeviceCapabilities.Extents;

    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        buffer.Span.Clear();
        return default;
    }

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default) => default;

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => default;

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) => default;

    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) => default;

    public async ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        if (yields)
            await Task.Yield();
        answer.AsSpan(0, Math.Min(answer.Length, destination.Length)).CopyTo(destination.Span);
        return reportedCount ?? answer.Length;
    }

    public ValueTask DisposeAsync() => default;
}
