using StorSharp.Block;

namespace StorSharp.Optical;

/// <summary>
/// The block device the SCSI device server sees for a drive: the loaded disc's sectors, or none.
/// The disc can change between two requests; a request already running finishes on the disc it
/// started on. With no disc loaded the geometry is empty and reads fail with NOT READY (the
/// dispatcher's medium check normally answers first).
/// </summary>
internal sealed class DriveSlot(OpticalDrive drive) : IBlockDevice
{
    public BlockGeometry Geometry => drive.LoadedDisc is { } disc ? new(OpticalDisc.SectorSize, disc.Sectors) : new(OpticalDisc.SectorSize, 0);

    public BlockDeviceCapabilities Capabilities => BlockDeviceCapabilities.ReadOnly;

    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var disc = drive.LoadedDisc;
        if (disc is null) return ValueTask.FromException(new BlockDeviceException(BlockError.NotReady, "No disc is loaded."));
        if (lba < 0 || buffer.Length % OpticalDisc.SectorSize != 0 || lba > disc.Sectors - buffer.Length / OpticalDisc.SectorSize)
            return ValueTask.FromException(new BlockDeviceException(BlockError.OutOfRange, $"Sectors {lba}+{buffer.Length / OpticalDisc.SectorSize} are outside the disc ({disc.Sectors})."));
        return disc.ReadAsync(lba, buffer, cancellationToken);
    }

    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default) =>
        ValueTask.FromException(new BlockDeviceException(BlockError.ReadOnly, "A read-only disc."));

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) =>
        ValueTask.FromException(new BlockDeviceException(BlockError.ReadOnly, "A read-only disc."));

    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) =>
        ValueTask.FromException(new BlockDeviceException(BlockError.ReadOnly, "A read-only disc."));

    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default) =>
        ValueTask.FromException<int>(new BlockDeviceException(BlockError.NotSupported, "No extent map on a disc."));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
