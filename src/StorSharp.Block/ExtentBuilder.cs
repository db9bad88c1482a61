namespace StorSharp.Block;

/// <summary>
/// Appends extents to a caller's buffer, merging a run into the previous one when it continues it
/// with the same flags, so answers stay as short as the NBD <c>base:allocation</c> reply wants.
/// </summary>
internal ref struct ExtentBuilder
{
    private readonly Span<BlockExtent> _destination;
    private int _count;

    internal ExtentBuilder(Span<BlockExtent> destination) => _destination = destination;

    /// <summary>How many extents have been written.</summary>
    internal readonly int Count => _count;

    /// <summary>Adds a run; false when it needs a new extent and the buffer is full.</summary>
    internal bool TryAdd(long lba, long blockCount, BlockExtentFlags flags)
    {
        if (_count > 0)
        {
            ref BlockExtent last = ref _destination[_count - 1];
            if (last.Flags == flags && last.Lba + last.BlockCount == lba)
            {
                last = last with { BlockCount = last.BlockCount + blockCount };
                return true;
            }
        }
        if (_count == _destination.Length)
            return false;
        _destination[_count++] = new BlockExtent(lba, blockCount, flags);
        return true;
    }
}
