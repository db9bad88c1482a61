namespace StorSharp.Block.Tests;

/// <summary>Assertions and data shared by the block tests.</summary>
internal static class BlockAssert
{
    /// <summary>Awaits the request and returns the <see cref="BlockDeviceException"/> it must fail with.</summary>
    public static async Task<BlockDeviceException> Fails(BlockError expected, Func<ValueTask> request)
    {
        BlockDeviceException e = await Assert.ThrowsAsync<BlockDeviceException>(async () => await request());
        Assert.Equal(expected, e.Error);
        return e;
    }

    /// <summary>Same for requests that return a value.</summary>
    public static async Task<BlockDeviceException> Fails<T>(BlockError expected, Func<ValueTask<T>> request)
    {
        BlockDeviceException e = await Assert.ThrowsAsync<BlockDeviceException>(async () => await request());
        Assert.Equal(expected, e.Error);
        return e;
    }

    /// <summary>Reproducible random bytes: each seed gives different data, so misplaced writes show.</summary>
    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static void AllZero(ReadOnlySpan<byte> bytes)
    {
        int i = bytes.IndexOfAnyExcept((byte)0);
        Assert.True(i < 0, $"byte {i} is 0x{(i < 0 ? 0 : bytes[i]):X2}, expected zero");
    }

    public static async Task<byte[]> Read(IBlockDevice device, long lba, long blockCount)
    {
        var buffer = new byte[blockCount * device.Geometry.LogicalBlockSize];
        Array.Fill(buffer, (byte)0xA5); // a read that writes nothing must not pass as zeros
        await device.ReadAsync(lba, buffer);
        return buffer;
    }

    public static async Task<BlockExtent[]> Extents(IBlockDevice device, long lba, long blockCount, int capacity = 256)
    {
        var extents = new BlockExtent[capacity];
        int count = await device.GetExtentsAsync(lba, blockCount, extents);
        return extents[..count];
    }

    /// <summary>The extents start at <paramref name="lba"/>, follow each other without gap and cover exactly the range.</summary>
    public static void CoverExactly(BlockExtent[] extents, long lba, long blockCount)
    {
        Assert.NotEmpty(extents);
        long next = lba;
        foreach (BlockExtent extent in extents)
        {
            Assert.Equal(next, extent.Lba);
            Assert.True(extent.BlockCount > 0, $"empty extent at LBA {extent.Lba}");
            next += extent.BlockCount;
        }
        Assert.Equal(lba + blockCount, next);
    }

    /// <summary>The flags the extents give to one block.</summary>
    public static BlockExtentFlags FlagsAt(BlockExtent[] extents, long lba) =>
        extents.Single(e => e.Lba <= lba && lba < e.Lba + e.BlockCount).Flags;
}
