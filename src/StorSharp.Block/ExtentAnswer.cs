namespace StorSharp.Block;

/// <summary>Checks and trims a backend's extent answer before it goes up the stack.</summary>
internal static class ExtentAnswer
{
    private const BlockExtentFlags KnownFlags = BlockExtentFlags.Hole | BlockExtentFlags.Zero;

    /// <summary>
    /// Verifies that the first <paramref name="count"/> extents describe consecutive blocks from
    /// <paramref name="lba"/>, cuts the answer at <paramref name="lba"/> + <paramref name="blockCount"/>,
    /// and returns the number of extents kept.
    /// </summary>
    internal static int Validate(long lba, long blockCount, Span<BlockExtent> extents, int count)
    {
        if (count < 1 || count > extents.Length)
            throw Malformed(lba, blockCount, $"it reported {count} extent(s) for a buffer of {extents.Length}");
        long end = lba + blockCount; // the range was checked: no overflow
        long next = lba;
        for (int i = 0; i < count; i++)
        {
            BlockExtent extent = extents[i];
            if (extent.Lba != next)
                throw Malformed(lba, blockCount, $"extent {i} starts at LBA {extent.Lba}, expected {next}");
            if (extent.BlockCount <= 0)
                throw Malformed(lba, blockCount, $"extent {i} has {extent.BlockCount} blocks");
            if ((extent.Flags & ~KnownFlags) != 0)
                throw Malformed(lba, blockCount, $"extent {i} has unknown flags 0x{(int)extent.Flags:X}");
            if (extent.BlockCount >= end - next)
            {
                extents[i] = extent with { BlockCount = end - next };
                return i + 1;
            }
            next += extent.BlockCount;
        }
        return count;
    }

    private static BlockDeviceException Malformed(long lba, long blockCount, string why) =>
        new(BlockError.MediumError, $"{BlockRange.GetExtents} of {blockCount} block(s) at LBA {lba}: the backend's answer is malformed: {why}.");
}
