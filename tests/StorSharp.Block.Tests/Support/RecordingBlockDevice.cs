using System.Collections.Concurrent;

namespace StorSharp.Block.Tests;

/// <summary>
/// Sits between the checked layer and a backend: records every call as text ("Write 8 2 FUA"),
/// and throws (a non-block exception, so the test fails) when the layer above calls something the
/// advertised capabilities do not include or passes a range outside the device.
/// </summary>
public sealed class RecordingBlockDevice(IBlockDevice inner, BlockDeviceCapabilities? capabilities = null) : IBlockDevice
{
    private readonly ConcurrentQueue<string> _calls = new();

    public IBlockDevice Inner => inner;

    public BlockGeometry Geometry => inner.Geometry;

    public BlockDeviceCapabilities Capabilities { get; } = capabilities ?? inner.Capabilities;

    /// <summary>The calls that reached the backend, in order.</summary>
    public IReadOnlyList<string> Calls => _calls.ToArray();

    public void Clear() => _calls.Clear();

    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Record("Read", lba, Blocks(buffer.Length));
        return inner.ReadAsync(lba, buffer, cancellationToken);
    }

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        if ((flags & BlockWriteFlags.ForceUnitAccess) != 0)
            Require(BlockDeviceCapabilities.ForceUnitAccess, "a FUA write");
        Record("Write", lba, Blocks(buffer.Length), flags == BlockWriteFlags.None ? "" : " FUA");
        return inner.WriteAsync(lba, buffer, flags, cancellationToken);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        Require(BlockDeviceCapabilities.Flush, "Flush");
        _calls.Enqueue("Flush");
        return inner.FlushAsync(cancellationToken);
    }

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        Require(BlockDeviceCapabilities.Unmap, "Unmap");
        Record("Unmap", lba, blockCount);
        return inner.UnmapAsync(lba, blockCount, cancellationToken);
    }

    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default)
    {
        Require(BlockDeviceCapabilities.WriteZeroes, "WriteZeroes");
        if ((flags & WriteZeroesFlags.ForceUnitAccess) != 0)
            Require(BlockDeviceCapabilities.ForceUnitAccess, "a FUA WriteZeroes");
        Record("WriteZeroes", lba, blockCount, flags == WriteZeroesFlags.None ? "" : $" {flags}");
        return inner.WriteZeroesAsync(lba, blockCount, flags, cancellationToken);
    }

    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        Require(BlockDeviceCapabilities.Extents, "GetExtents");
        Record("GetExtents", lba, blockCount);
        return inner.GetExtentsAsync(lba, blockCount, destination, cancellationToken);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private long Blocks(int bytes) => bytes / Geometry.LogicalBlockSize;

    private void Record(string operation, long lba, long blockCount, string suffix = "")
    {
        long size = Geometry.BlockCount;
        if (lba < 0 || blockCount <= 0 || blockCount > size || lba > size - blockCount)
            throw new InvalidOperationException($"{operation} {lba} {blockCount} reached the backend: the layer above let a bad range through.");
        _calls.Enqueue($"{operation} {lba} {blockCount}{suffix}");
    }

    private void Require(BlockDeviceCapabilities capability, string what)
    {
        if ((Capabilities & capability) == 0)
            throw new InvalidOperationException($"{what} reached a backend that does not declare {capability}.");
    }
}
