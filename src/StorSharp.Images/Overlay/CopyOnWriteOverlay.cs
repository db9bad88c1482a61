using StorSharp.Block;
using StorSharp.Images.Qcow2;

namespace StorSharp.Images.Overlay;

/// <summary>
/// A copy-on-write overlay: a read-only base (any <see cref="IBlockDevice"/>: RAM, file, disk image, network)
/// plus an overlay file that takes every write. Reads of blocks never written come from the base; writes,
/// unmaps and zeroing change only the overlay. <see cref="DiscardAsync"/> throws the overlay's changes away
/// (back to the base); <see cref="MergeAsync"/> writes them into the base when it is writable.
/// </summary>
/// <remarks>
/// <para>The overlay file is a qcow2 version 3 image whose backing is the base device (one mechanism: the same
/// <see cref="Qcow2BlockDevice"/> serves qcow2 files and overlays, and <c>qemu-img info/check/map</c> can inspect
/// the overlay). When a base path is given it is recorded as the image's backing file, so
/// <c>qemu-img convert</c> of the overlay gives the whole disk; otherwise the file holds only the changes.
/// Unmapped or zeroed blocks become qcow2 zero clusters (or zero bytes inside a partial cluster): they read as
/// zeros and the base is never touched.</para>
/// <para>An existing overlay file is reopened, not replaced, so changes survive a restart.</para>
/// <para>Discard and merge wait for requests in flight to finish and hold new ones until they are done.
/// A merge copies the overlay's clusters into the base, flushes the base, and only then empties the overlay:
/// after a crash part way through, the overlay still holds every change and merging again completes it.</para>
/// </remarks>
public sealed class CopyOnWriteOverlay : IBlockDevice
{
    private readonly IBlockDevice _base;
    private readonly string _path;
    private readonly CopyOnWriteOverlayOptions _options;
    private readonly OperationGate _gate = new();
    private Qcow2BlockDevice _overlay;
    private int _disposed;

    private CopyOnWriteOverlay(IBlockDevice baseDevice, string path, CopyOnWriteOverlayOptions options, Qcow2BlockDevice overlay)
    {
        _base = baseDevice;
        _path = path;
        _options = options;
        _overlay = overlay;
        Geometry = overlay.Geometry;
        Capabilities = overlay.Capabilities;
    }

    /// <summary>The overlay file.</summary>
    public string OverlayPath => _path;

    /// <summary>The base device (never written except by <see cref="MergeAsync"/>).</summary>
    public IBlockDevice Base => _base;

    /// <inheritdoc/>
    public BlockGeometry Geometry { get; }

    /// <summary>The qcow2 overlay's: flush, unmap and zeroing (reading as zeros), extents (the base's where the overlay holds nothing), thin provisioning.</summary>
    public BlockDeviceCapabilities Capabilities { get; }

    /// <summary>
    /// Opens the overlay at <paramref name="overlayPath"/> over <paramref name="baseDevice"/>, creating an empty
    /// overlay file when there is none.
    /// </summary>
    /// <exception cref="DiskImageException">An existing overlay file is not a qcow2 image or its size differs from the base.</exception>
    public static async ValueTask<CopyOnWriteOverlay> OpenAsync(IBlockDevice baseDevice, string overlayPath, CopyOnWriteOverlayOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseDevice);
        ArgumentException.ThrowIfNullOrEmpty(overlayPath);
        options ??= new CopyOnWriteOverlayOptions();
        if (!File.Exists(overlayPath))
            await CreateFileAsync(baseDevice, overlayPath, options, cancellationToken).ConfigureAwait(false);
        var overlay = await OpenFileAsync(baseDevice, overlayPath, cancellationToken).ConfigureAwait(false);
        return new CopyOnWriteOverlay(baseDevice, overlayPath, options, overlay);
    }

    private static async ValueTask CreateFileAsync(IBlockDevice baseDevice, string path, CopyOnWriteOverlayOptions options, CancellationToken cancellationToken)
    {
        int clusterSize = Math.Max(options.ClusterSize, baseDevice.Geometry.LogicalBlockSize);
        await Qcow2Creator.CreateAsync(path, baseDevice.Geometry.SizeBytes, clusterSize,
            options.BasePath is null ? null : System.IO.Path.GetFullPath(options.BasePath), options.BaseFormat, cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask<Qcow2BlockDevice> OpenFileAsync(IBlockDevice baseDevice, string path, CancellationToken cancellationToken)
    {
        if (await DiskImage.DetectAsync(path, cancellationToken).ConfigureAwait(false) is not Qcow2Format)
            throw new DiskImageException($"{path}: the overlay file exists but is not a qcow2 image; remove it or name another file");
        var backing = new ReadOnlyBlockDevice(baseDevice, leaveOpen: true);
        var options = new DiskImageOpenOptions { LogicalBlockSize = baseDevice.Geometry.LogicalBlockSize };
        var overlay = await Qcow2BlockDevice.OpenAsync(path, options, backing, ownsBacking: true, cancellationToken).ConfigureAwait(false);
        if (overlay.Geometry.SizeBytes != baseDevice.Geometry.SizeBytes)
        {
            await overlay.DisposeAsync().ConfigureAwait(false);
            throw new DiskImageException($"{path}: the overlay's virtual size is {overlay.Geometry.SizeBytes} bytes but the base has {baseDevice.Geometry.SizeBytes}");
        }
        return overlay;
    }

    /// <inheritdoc/>
    public async ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _gate.EnterAsync(cancellationToken).ConfigureAwait(false);
        try { await _overlay.ReadAsync(lba, buffer, cancellationToken).ConfigureAwait(false); }
        finally { _gate.Exit(); }
    }

    /// <summary>Writes into the overlay; the base is not touched.</summary>
    public async ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        await _gate.EnterAsync(cancellationToken).ConfigureAwait(false);
        try { await _overlay.WriteAsync(lba, buffer, flags, cancellationToken).ConfigureAwait(false); }
        finally { _gate.Exit(); }
    }

    /// <summary>Flushes the overlay file (the base has nothing to flush: it is not written).</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await _gate.EnterAsync(cancellationToken).ConfigureAwait(false);
        try { await _overlay.FlushAsync(cancellationToken).ConfigureAwait(false); }
        finally { _gate.Exit(); }
    }

    /// <summary>Makes the blocks read as zeros in the overlay; the base keeps its data.</summary>
    public async ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        await _gate.EnterAsync(cancellationToken).ConfigureAwait(false);
        try { await _overlay.UnmapAsync(lba, blockCount, cancellationToken).ConfigureAwait(false); }
        finally { _gate.Exit(); }
    }

    /// <summary>Zeroes the blocks in the overlay; the base keeps its data.</summary>
    public async ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default)
    {
        await _gate.EnterAsync(cancellationToken).ConfigureAwait(false);
        try { await _overlay.WriteZeroesAsync(lba, blockCount, flags, cancellationToken).ConfigureAwait(false); }
        finally { _gate.Exit(); }
    }

    /// <inheritdoc/>
    public async ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        await _gate.EnterAsync(cancellationToken).ConfigureAwait(false);
        try { return await _overlay.GetExtentsAsync(lba, blockCount, destination, cancellationToken).ConfigureAwait(false); }
        finally { _gate.Exit(); }
    }

    /// <summary>Throws away every change: the device reads as the base again. Waits for requests in flight.</summary>
    public Task DiscardAsync(CancellationToken cancellationToken = default) =>
        _gate.RunExclusiveAsync(() => ResetAsync(cancellationToken), cancellationToken);

    /// <summary>
    /// Writes the overlay's changes into the base (data, and zeros where the overlay has zero clusters), flushes the
    /// base, then empties the overlay. Waits for requests in flight and holds new ones until done.
    /// </summary>
    /// <exception cref="InvalidOperationException">The base is read-only.</exception>
    public Task MergeAsync(CancellationToken cancellationToken = default)
    {
        if ((_base.Capabilities & BlockDeviceCapabilities.ReadOnly) != 0)
            throw new InvalidOperationException("The overlay cannot be merged: its base device is read-only.");
        return _gate.RunExclusiveAsync(async () =>
        {
            int bs = Geometry.LogicalBlockSize;
            var target = new CheckedBlockDevice(_base, leaveOpen: true);
            byte[] buffer = new byte[_overlay.ClusterSize];
            await foreach (var (offset, length, zero) in _overlay.OwnRangesAsync(cancellationToken).ConfigureAwait(false))
            {
                if (zero)
                    await target.WriteZeroesAsync(offset / bs, length / bs, WriteZeroesFlags.None, cancellationToken).ConfigureAwait(false);
                else
                {
                    await _overlay.ReadAsync(offset / bs, buffer.AsMemory(0, (int)length), cancellationToken).ConfigureAwait(false);
                    await target.WriteAsync(offset / bs, buffer.AsMemory(0, (int)length), BlockWriteFlags.None, cancellationToken).ConfigureAwait(false);
                }
            }
            await target.FlushAsync(cancellationToken).ConfigureAwait(false);
            await ResetAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    private async Task ResetAsync(CancellationToken cancellationToken)
    {
        await _overlay.DisposeAsync().ConfigureAwait(false);
        string fresh = _path + ".new";
        File.Delete(fresh);
        await CreateFileAsync(_base, fresh, _options, cancellationToken).ConfigureAwait(false);
        File.Move(fresh, _path, overwrite: true); // atomic: the old overlay or the empty one, never half of either
        _overlay = await OpenFileAsync(_base, _path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the overlay file, and the base unless <see cref="CopyOnWriteOverlayOptions.LeaveBaseOpen"/>. The overlay file stays on disk.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _overlay.DisposeAsync().ConfigureAwait(false);
        if (!_options.LeaveBaseOpen) await _base.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>How a <see cref="CopyOnWriteOverlay"/> is created.</summary>
public sealed record CopyOnWriteOverlayOptions
{
    /// <summary>Cluster size of a new overlay file (the unit of copy-on-write): 64 KiB by default, at least the base's block size.</summary>
    public int ClusterSize { get; init; } = 65536;

    /// <summary>The base's file, recorded as the overlay's backing file so qemu tools see the whole disk; null when the base is not a file.</summary>
    public string? BasePath { get; init; }

    /// <summary>The base file's format for the header (<c>raw</c>, <c>qcow2</c>...), with <see cref="BasePath"/>.</summary>
    public string? BaseFormat { get; init; }

    /// <summary>When true, disposing the overlay leaves the base device open.</summary>
    public bool LeaveBaseOpen { get; init; }
}
