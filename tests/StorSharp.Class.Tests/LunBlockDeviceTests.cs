using StorSharp.Block;
using StorSharp.Class;
using StorSharp.Port;
using StorSharp.Testing.Disk;

namespace StorSharp.Class.Tests;

/// <summary>The in-process LUN API: block calls become SRBs through a real StoragePort.</summary>
public class LunBlockDeviceTests
{
    private static async Task<(StoragePort Port, MemoryDiskMiniport Miniport, LunBlockDevice Device, MemoryDisk Disk)> OpenAsync(
        MemoryDisk? disk = null, int maxTransfer = 1024 * 1024, PortOptions? options = null)
    {
        disk ??= new MemoryDisk(4 * 1024 * 1024);
        var (port, adapter, miniport) = await MemoryDiskMiniport.StartAsync(maxTransfer, options, disk);
        var device = await LunBlockDevice.OpenAsync(adapter, new ScsiAddress(0, 0, 0));
        return (port, miniport, device, disk);
    }

    [Fact]
    public async Task OpenReadsGeometryAndCapabilities()
    {
        var (port, _, device, _) = await OpenAsync(new MemoryDisk(8 * 1024 * 1024, blockSize: 4096));
        await using var _p = port;
        Assert.Equal(new BlockGeometry(4096, 2048, 0, 8), device.Geometry);
        var caps = device.Capabilities;
        Assert.True(caps.HasFlag(BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.ThinProvisioned | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.Extents));
        Assert.True(caps.HasFlag(BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.ForceUnitAccess | BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.MultiConnection | BlockDeviceCapabilities.NonRotational));
        Assert.False(caps.HasFlag(BlockDeviceCapabilities.ReadOnly));
        Assert.Equal(256, device.MaximumTransferBlocks); // 1 MiB / 4 KiB
    }

    [Fact]
    public async Task ThickWriteProtectedLu()
    {
        var (port, _, device, _) = await OpenAsync(new MemoryDisk(1024 * 1024, thin: false, writeProtected: true));
        await using var _p = port;
        Assert.True(device.IsWriteProtected);
        Assert.False(device.Capabilities.HasFlag(BlockDeviceCapabilities.Unmap));
        var ex = await Assert.ThrowsAsync<BlockDeviceException>(() => device.WriteAsync(0, new byte[512]).AsTask());
        Assert.Equal(BlockError.ReadOnly, ex.Error);
        Assert.Equal(BlockError.NotSupported, (await Assert.ThrowsAsync<BlockDeviceException>(() => device.UnmapAsync(0, 1).AsTask())).Error);
        var extents = new BlockExtent[4];
        Assert.Equal(1, await device.GetExtentsAsync(0, 2048, extents));
        Assert.Equal(new BlockExtent(0, 2048, BlockExtentFlags.Data), extents[0]);
    }

    [Fact]
    public async Task MissingLuFailsToOpen()
    {
        var (port, adapter, _) = await MemoryDiskMiniport.StartAsync(1024 * 1024, null, new MemoryDisk(1024 * 1024));
        await using var _p = port;
        var ex = await Assert.ThrowsAsync<BlockDeviceException>(() => LunBlockDevice.OpenAsync(adapter, new ScsiAddress(0, 0, 3)));
        Assert.Equal(BlockError.NotReady, ex.Error);
    }

    [Fact]
    public async Task WriteReadRoundTripSplitsLargeTransfers()
    {
        var (port, miniport, device, disk) = await OpenAsync(maxTransfer: 64 * 1024);
        await using var _p = port;
        var data = new byte[1024 * 1024];
        new Random(1).NextBytes(data);
        int before = miniport.Requests;
        await device.WriteAsync(16, data, BlockWriteFlags.ForceUnitAccess);
        Assert.Equal(16, miniport.Requests - before); // 1 MiB in 64 KiB SRBs
        Assert.Equal(16, disk.FuaWrites);
        Assert.Equal(data, disk.Bytes.AsSpan(16 * 512, data.Length).ToArray());
        var back = new byte[data.Length];
        await device.ReadAsync(16, back);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task ByteOffsetHelpersReadModifyWrite()
    {
        var (port, _, device, disk) = await OpenAsync();
        await using var _p = port;
        new Random(2).NextBytes(disk.Bytes.AsSpan(0, 8192));
        var expected = disk.Bytes.AsSpan(0, 8192).ToArray();
        var patch = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        patch.CopyTo(expected, 700);
        await device.WriteAtAsync(700, patch);
        Assert.Equal(expected, disk.Bytes.AsSpan(0, 8192).ToArray());
        var small = new byte[10];
        await device.WriteAtAsync(5000, small);
        small.CopyTo(expected, 5000);
        Assert.Equal(expected, disk.Bytes.AsSpan(0, 8192).ToArray());
        var back = new byte[5001];
        await device.ReadAtAsync(123, back);
        Assert.Equal(expected.AsSpan(123, 5001).ToArray(), back);
        var aligned = new byte[1024];
        await device.ReadAtAsync(512, aligned);
        Assert.Equal(expected.AsSpan(512, 1024).ToArray(), aligned);
    }

    [Fact]
    public async Task ConcurrentUnalignedWritesToOneBlockDoNotLoseUpdates()
    {
        var (port, miniport, device, disk) = await OpenAsync();
        await using var _p = port;
        miniport.CompleteAsynchronously = true;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => device.WriteAtAsync(i * 8, new byte[] { (byte)(i + 1) }).AsTask()));
        for (int i = 0; i < 64; i++) Assert.Equal(i + 1, disk.Bytes[i * 8]);
    }

    [Fact]
    public async Task UnmapExtentsAndWriteZeroes()
    {
        var (port, _, device, disk) = await OpenAsync();
        await using var _p = port;
        await device.WriteAsync(0, Enumerable.Repeat((byte)0xAA, 64 * 512).ToArray());
        await device.UnmapAsync(16, 16);
        var extents = new BlockExtent[8];
        int n = await device.GetExtentsAsync(0, 64, extents);
        Assert.Equal([new BlockExtent(0, 16, BlockExtentFlags.Data), new BlockExtent(16, 16, BlockExtentFlags.Hole | BlockExtentFlags.Zero), new BlockExtent(32, 32, BlockExtentFlags.Data)], extents[..n]);
        // Extents start exactly at the asked LBA and stop at the end of the range.
        n = await device.GetExtentsAsync(20, 20, extents);
        Assert.Equal([new BlockExtent(20, 12, BlockExtentFlags.Hole | BlockExtentFlags.Zero), new BlockExtent(32, 8, BlockExtentFlags.Data)], extents[..n]);

        await device.WriteZeroesAsync(40, 8, WriteZeroesFlags.MayUnmap);
        Assert.True(disk.Bytes.AsSpan(40 * 512, 8 * 512).IndexOfAnyExcept((byte)0) < 0);
        Assert.False(disk.Mapped[40]);
        await device.WriteZeroesAsync(50, 4, WriteZeroesFlags.None);
        Assert.True(disk.Mapped[50]);
        Assert.Equal(2, disk.WriteSames);
    }

    [Fact]
    public async Task WriteZeroesFallsBackToWritesWhenWriteSameIsMissing()
    {
        var (port, _, device, disk) = await OpenAsync();
        await using var _p = port;
        disk.SupportsWriteSame = false;
        Array.Fill(disk.Bytes, (byte)0x55, 0, 4096);
        await device.WriteZeroesAsync(0, 8);
        Assert.True(disk.Bytes.AsSpan(0, 4096).IndexOfAnyExcept((byte)0) < 0);
        Assert.False(device.Capabilities.HasFlag(BlockDeviceCapabilities.WriteZeroes)); // learnt
        var ex = await Assert.ThrowsAsync<BlockDeviceException>(() => device.WriteZeroesAsync(0, 8, WriteZeroesFlags.FastOnly).AsTask());
        Assert.Equal(BlockError.NotSupported, ex.Error);
    }

    [Fact]
    public async Task OutOfRangeComesBackFromTheLuAsOutOfRange()
    {
        var (port, _, device, _) = await OpenAsync();
        await using var _p = port;
        var ex = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(device.Geometry.BlockCount, new byte[512]).AsTask());
        Assert.Equal(BlockError.OutOfRange, ex.Error);
        ex = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[100]).AsTask());
        Assert.Equal(BlockError.InvalidArgument, ex.Error);
    }

    [Fact]
    public async Task UnitAttentionIsRetriedAndPersistentFailuresAreNot()
    {
        var (port, miniport, device, _) = await OpenAsync();
        await using var _p = port;
        int attentions = 2;
        miniport.Fail = srb => srb.OperationCode == 0x88 && Interlocked.Decrement(ref attentions) >= 0 ? ((byte)0x6, (byte)0x29, (byte)0x00) : null;
        await device.ReadAsync(0, new byte[512]);
        miniport.Fail = srb => srb.OperationCode == 0x88 ? ((byte)0x3, (byte)0x11, (byte)0x00) : null;
        int before = miniport.Requests;
        var ex = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[512]).AsTask());
        Assert.Equal(BlockError.MediumError, ex.Error);
        Assert.Equal(1, miniport.Requests - before);
    }

    [Fact]
    public async Task PersistentUnitAttentionGivesUpAfterTheRetryCount()
    {
        var (port, miniport, device, _) = await OpenAsync();
        await using var _p = port;
        miniport.Fail = srb => srb.OperationCode == 0x88 ? ((byte)0x6, (byte)0x29, (byte)0x00) : null;
        int before = miniport.Requests;
        var ex = await Assert.ThrowsAsync<BlockDeviceException>(() => device.ReadAsync(0, new byte[512]).AsTask());
        Assert.Equal(BlockError.MediumError, ex.Error);
        Assert.Equal(1 + device.RetryCount, miniport.Requests - before);
    }

    [Fact]
    public async Task FlushPreFetchAndNexus()
    {
        var (port, miniport, device, disk) = await OpenAsync();
        await using var _p = port;
        var nexus = new InitiatorNexus("test-initiator", "test-target");
        var view = device.WithNexus(nexus);
        InitiatorNexus? seen = null;
        miniport.Fail = srb => { seen = srb.Nexus; return null; };
        await view.FlushAsync();
        Assert.Same(nexus, seen);
        Assert.Equal(1, disk.Flushes);
        await view.PreFetchAsync(0, 100);
        Assert.Equal(1, disk.PreFetches);
        Assert.Equal(device.Geometry, view.Geometry);
    }
}
