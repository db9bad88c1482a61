using StorSharp.Block;

namespace StorSharp.Scsi.Tests;

/// <summary>
/// A small RAM block device for tests: counts flushes and writes, can hold reads until released,
/// and can fail the next request with a chosen error.
/// </summary>
internal sealed class TestBlockDevice : IBlockDevice
{
    private readonly byte[] _data;
    private readonly bool[] _unmapped;
    private TaskCompletionSource? _readGate;

    public TestBlockDevice(long blockCount = 1024, int blockSize = 512, BlockDeviceCapabilities capabilities = BlockDeviceCapabilities.Flush,
        byte physicalExponent = 0, long? reportedBlockCount = null)
    {
        _data = new byte[blockCount * blockSize];
        _unmapped = new bool[blockCount];
        Geometry = new BlockGeometry(blockSize, reportedBlockCount ?? blockCount, physicalExponent);
        Capabilities = capabilities;
    }

    public BlockGeometry Geometry { get; }

    public BlockDeviceCapabilities Capabilities { get; }

    public int FlushCount;
    public int WriteCount;
    public int ReadCount;
    public BlockWriteFlags LastWriteFlags;
    public BlockError? FailNext;

    public Span<byte> Bytes => _data;

    /// <summary>Reads complete asynchronously, after a short delay, so concurrent commands interleave.</summary>
    public bool YieldReads;

    /// <summary>From now on reads wait until <see cref="ReleaseReads"/>.</summary>
    public void HoldReads() => _readGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ReleaseReads() => Interlocked.Exchange(ref _readGate, null)?.TrySetResult();

    public TaskCompletionSource ReadStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Check(long lba, long bytes)
    {
        if (FailNext is { } e) { FailNext = null; throw new BlockDeviceException(e, $"injected {e}"); }
        if (bytes % Geometry.LogicalBlockSize != 0) throw new BlockDeviceException(BlockError.InvalidArgument, "not whole blocks");
        if (lba < 0 || (lba * Geometry.LogicalBlockSize) + bytes > _data.Length) throw new BlockDeviceException(BlockError.OutOfRange, "out of range");
    }

    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref ReadCount);
        var gate = _readGate;
        ReadStarted.TrySetResult();
        if (gate is not null) return new ValueTask(ReadLaterAsync(gate.Task, lba, buffer));
        if (YieldReads) return new ValueTask(ReadLaterAsync(Task.Delay(1), lba, buffer));
        Check(lba, buffer.Length);
        _data.AsSpan((int)(lba * Geometry.LogicalBlockSize), buffer.Length).CopyTo(buffer.Span);
        return ValueTask.CompletedTask;
    }

    private async Task ReadLaterAsync(Task gate, long lba, Memory<byte> buffer)
    {
        await gate.ConfigureAwait(false);
        Check(lba, buffer.Length);
        _data.AsSpan((int)(lba * Geometry.LogicalBlockSize), buffer.Length).CopyTo(buffer.Span);
    }

    private TaskCompletionSource? _writeGate;

    /// <summary>From now on writes (and zeroing) wait until <see cref="ReleaseWrites"/>.</summary>
    public void HoldWrites() => _writeGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ReleaseWrites() => Interlocked.Exchange(ref _writeGate, null)?.TrySetResult();

    public TaskCompletionSource WriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        WriteStarted.TrySetResult();
        if (_writeGate is { } gate) return new ValueTask(WriteLaterAsync(gate.Task, lba, buffer.ToArray(), flags));
        Interlocked.Increment(ref WriteCount);
        LastWriteFlags = flags;
        Check(lba, buffer.Length);
        buffer.Span.CopyTo(_data.AsSpan((int)(lba * Geometry.LogicalBlockSize)));
        _unmapped.AsSpan((int)lba, buffer.Length / Geometry.LogicalBlockSize).Clear();
        return ValueTask.CompletedTask;
    }

    private async Task WriteLaterAsync(Task gate, long lba, byte[] buffer, BlockWriteFlags flags)
    {
        await gate.ConfigureAwait(false);
        await WriteAsync(lba, buffer, flags).ConfigureAwait(false);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        if (FailNext is { } e) { FailNext = null; return ValueTask.FromException(new BlockDeviceException(e, $"injected {e}")); }
        Interlocked.Increment(ref FlushCount);
        return ValueTask.CompletedTask;
    }

    public int UnmapCount;
    public WriteZeroesFlags LastZeroFlags;

    public bool IsUnmapped(long lba) => _unmapped[lba];

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref UnmapCount);
        var r = WriteZeroesAsync(lba, blockCount, WriteZeroesFlags.MayUnmap, cancellationToken);
        _unmapped.AsSpan((int)lba, (int)blockCount).Fill(true);
        return r;
    }

    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default)
    {
        WriteStarted.TrySetResult();
        if (_writeGate is { } gate) return new ValueTask(ZeroLaterAsync(gate.Task, lba, blockCount, flags));
        Check(lba, blockCount * Geometry.LogicalBlockSize);
        LastZeroFlags = flags;
        _data.AsSpan((int)(lba * Geometry.LogicalBlockSize), (int)(blockCount * Geometry.LogicalBlockSize)).Clear();
        _unmapped.AsSpan((int)lba, (int)blockCount).Fill((flags & WriteZeroesFlags.MayUnmap) != 0);
        return ValueTask.CompletedTask;
    }

    private async Task ZeroLaterAsync(Task gate, long lba, long blockCount, WriteZeroesFlags flags)
    {
        await gate.ConfigureAwait(false);
        await WriteZeroesAsync(lba, blockCount, flags).ConfigureAwait(false);
    }

    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        int n = 0;
        long end = Math.Min(lba + blockCount, _unmapped.Length);
        for (long start = lba; start < end && n < destination.Length;)
        {
            bool hole = _unmapped[start];
            long stop = start;
            while (stop < end && _unmapped[stop] == hole) stop++;
            destination.Span[n++] = new BlockExtent(start, stop - start, hole ? BlockExtentFlags.Hole | BlockExtentFlags.Zero : BlockExtentFlags.Data);
            start = stop;
        }
        return ValueTask.FromResult(n);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
