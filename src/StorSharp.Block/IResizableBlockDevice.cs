namespace StorSharp.Block;

/// <summary>
/// A block device whose size can grow while it is open (a LUN resized at run time). The RAM and
/// file backends implement it, and <see cref="CheckedBlockDevice"/> passes it on.
/// </summary>
/// <remarks>
/// Only growing is supported: shrinking would drop data initiators may still address. The caller
/// must hold the device's I/O while it resizes (the host pauses and drains the LU), because the
/// geometry changes underneath the range checks.
/// </remarks>
public interface IResizableBlockDevice : IBlockDevice
{
    /// <summary>True when <see cref="GrowAsync"/> can work (a wrapper over a backend that cannot grow says false).</summary>
    bool CanGrow { get; }

    /// <summary>Grows the device to <paramref name="blockCount"/> blocks; the new blocks read as zeros.</summary>
    /// <exception cref="BlockDeviceException"><see cref="BlockError.InvalidArgument"/>: the count is not larger than now or too large; <see cref="BlockError.NotSupported"/>: the device cannot grow; <see cref="BlockError.ReadOnly"/>: it is read-only; or an I/O error extending the backing store.</exception>
    ValueTask GrowAsync(long blockCount, CancellationToken cancellationToken = default);
}
