using StorSharp.Block;

namespace StorSharp.Nvme.Tests;

/// <summary>A RAM disk with knobs: declared capabilities, a failure to throw, completion on the thread pool, and call counts.</summary>
internal sealed class FakeBlockDevice(long sizeBytes, int blockSize = 512) : IBlockDevice
{
    private readonly RamBlockDevice _ram = new(sizeBytes, blockSize);

    public BlockDeviceCapabilities? CapabilitiesOverride { get; set; }

    /// <summary>Thrown by reads and writes when set.</summary>
    public BlockError? Fail { get; set; }

    /// <summary>Complete every call later, on the thread pool.</summary>
    public bool Asynchronous { get; set; }

    public int Flushes;
    public int Unmaps;
    public int Writes;
    public int Reads;
    public BlockWriteFlags LastWriteFlags;

    public BlockGeometry Geometry => _ram.Geometry;

    public BlockDeviceCapabilities Capabilities => CapabilitiesOverride ?? _ram.Capabilities;

    public RamBlockDevice Ram => _ram;

    public async ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Asynchronous) await Task.Yield();
        if (Fail is { } f) throw new BlockDeviceException(f, "injected");
        Interlocked.Increment(ref Reads);
        await _ram.ReadAsync(lba, buffer, cancellationToken);
    }

    public async ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        if (Asynchronous) await Task.Yield();
        if (Fail is { } f) throw new BlockDeviceException(f, "injected");
        Interlocked.Increment(ref Writes);
        LastWriteFlags = flags;
        await _ram.WriteAsync(lba, buffer, flags, cancellationToken);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Flushes);
        return ValueTask.CompletedTask;
    }

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Unmaps);
        return _ram.UnmapAsync(lba, blockCount, cancellationToken);
    }

    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) =>
        _ram.WriteZeroesAsync(lba, blockCount, flags, cancellationToken);

    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default) =>
        _ram.GetExtentsAsync(lba, blockCount, destination, cancellationToken);

    public ValueTask DisposeAsync() => _ram.DisposeAsync();
}
