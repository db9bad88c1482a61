using System.Runtime.CompilerServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace StorSharp.Block;

/// <summary>
/// A raw image file as a block device: block <c>n</c> is at byte <c>n × block size</c>. I/O goes
/// through <see cref="RandomAccess"/> at explicit offsets, so concurrent requests never share a
/// file position. On Linux, unmap punches holes, zeroing uses <c>fallocate</c>, and extents come
/// from SEEK_DATA / SEEK_HOLE, so a sparse image stays sparse.
/// </summary>
/// <remarks>
/// <para>Every OS failure becomes a <see cref="BlockDeviceException"/> carrying the OS message:
/// <see cref="BlockError.NoSpace"/> for a full file system, <see cref="BlockError.NotReady"/>
/// after disposal, <see cref="BlockError.MediumError"/> for the rest. A read that meets the end of
/// the file (the file was truncated underneath) fails with <see cref="BlockError.MediumError"/>
/// rather than returning anything it did not read.</para>
/// <para>On Unix .NET performs file I/O on thread-pool threads; the caller's thread is never
/// blocked. <c>fsync</c> and <c>fallocate</c> are moved off the caller's thread the same way.
/// SEEK_DATA / SEEK_HOLE run inline: they consult the file system's extent tree, as nbdkit's file
/// plugin does.</para>
/// </remarks>
public sealed class FileBlockDevice : IResizableBlockDevice
{
    private readonly SafeFileHandle _handle;
    private BlockGeometry _geometry;
    private readonly bool _readOnly;
    private volatile bool _punchUnsupported;
    private volatile bool _zeroRangeUnsupported;

    private FileBlockDevice(SafeFileHandle handle, string path, BlockGeometry geometry, bool readOnly)
    {
        _handle = handle;
        Path = path;
        _geometry = geometry;
        _readOnly = readOnly;
        BlockDeviceCapabilities capabilities = BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.MultiConnection;
        if (OperatingSystem.IsLinux())
            capabilities |= BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.WriteZeroes
                | BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ThinProvisioned;
        Capabilities = readOnly ? DeviceShape.AsReadOnly(capabilities) : capabilities;
    }

    /// <inheritdoc/>
    public bool CanGrow => !_readOnly;

    /// <summary>Grows the file to <paramref name="blockCount"/> blocks with <see cref="RandomAccess.SetLength"/> (sparse where the file system allows); the new blocks read as zeros.</summary>
    /// <inheritdoc cref="IResizableBlockDevice.GrowAsync"/>
    public ValueTask GrowAsync(long blockCount, CancellationToken cancellationToken = default)
    {
        if (_readOnly) return ValueTask.FromException(new BlockDeviceException(BlockError.ReadOnly, $"{Path} is open read-only; it cannot grow."));
        if (blockCount <= _geometry.BlockCount || blockCount > long.MaxValue / _geometry.LogicalBlockSize)
            return ValueTask.FromException(new BlockDeviceException(BlockError.InvalidArgument,
                $"{Path} has {_geometry.BlockCount} blocks; it can only grow, and {blockCount} was asked."));
        try
        {
            RandomAccess.SetLength(_handle, blockCount * _geometry.LogicalBlockSize);
        }
        catch (IOException e)
        {
            return ValueTask.FromException(new BlockDeviceException(BlockError.NoSpace, $"{Path} could not grow to {blockCount} blocks: {e.Message}", e));
        }
        _geometry = _geometry with { BlockCount = blockCount };
        return default;
    }

    /// <summary>
    /// Creates an image file of <paramref name="sizeBytes"/> bytes and opens it read-write. The file
    /// is extended with <see cref="RandomAccess.SetLength"/>, so on file systems with sparse files it
    /// takes no space until written.
    /// </summary>
    /// <param name="path">Where to create the file.</param>
    /// <param name="sizeBytes">The device size: a positive whole number of blocks.</param>
    /// <param name="blockSize">The logical block size: 512 or 4096.</param>
    /// <param name="overwrite">When true an existing file is truncated and reused; when false it is an error.</param>
    /// <exception cref="ArgumentException">The block size is not 512 or 4096, or the size is not whole blocks.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The size is not positive.</exception>
    /// <exception cref="IOException">The file exists and <paramref name="overwrite"/> is false, or it cannot be created.</exception>
    public static FileBlockDevice Create(string path, long sizeBytes, int blockSize = 512, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        DeviceShape.ValidateBlockSize(blockSize, nameof(blockSize));
        long blockCount = DeviceShape.BlockCountOf(sizeBytes, blockSize, nameof(sizeBytes));
        SafeFileHandle handle = File.OpenHandle(path, overwrite ? FileMode.Create : FileMode.CreateNew,
            FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous);
        try
        {
            RandomAccess.SetLength(handle, sizeBytes);
        }
        catch
        {
            handle.Dispose();
            File.Delete(path);
            throw;
        }
        return new FileBlockDevice(handle, path, new BlockGeometry(blockSize, blockCount), readOnly: false);
    }

    /// <summary>Opens an existing image file; the device size is the file length.</summary>
    /// <param name="path">The image file.</param>
    /// <param name="blockSize">The logical block size: 512 or 4096.</param>
    /// <param name="readOnly">
    /// When true the file is opened for reading only (others may read it too) and the device
    /// refuses writes; when false it is opened for reading and writing, exclusively.
    /// </param>
    /// <exception cref="ArgumentException">The block size is not 512 or 4096.</exception>
    /// <exception cref="BlockDeviceException">
    /// <see cref="BlockError.InvalidArgument"/>: the file is empty or its length is not a whole number of blocks.
    /// </exception>
    /// <exception cref="IOException">The file cannot be opened (missing, locked, ...).</exception>
    public static FileBlockDevice Open(string path, int blockSize = 512, bool readOnly = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        DeviceShape.ValidateBlockSize(blockSize, nameof(blockSize));
        SafeFileHandle handle = readOnly
            ? File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous)
            : File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous);
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length == 0 || length % blockSize != 0)
                throw new BlockDeviceException(BlockError.InvalidArgument, length == 0
                    ? $"'{path}' is empty: a block device needs at least one {blockSize}-byte block."
                    : $"'{path}' is {length} bytes, not a whole number of {blockSize}-byte blocks ({length % blockSize} bytes left over).");
            return new FileBlockDevice(handle, path, new BlockGeometry(blockSize, length / blockSize), readOnly);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The image file.</summary>
    public string Path { get; }

    /// <summary>The open file, for tests that need to reach underneath the device.</summary>
    internal SafeFileHandle Handle => _handle;

    /// <inheritdoc/>
    public BlockGeometry Geometry => _geometry;

    /// <summary>
    /// Flush and multiple connections everywhere; on Linux also unmap (hole punching; holes read
    /// as zeros), native zeroing, extents and thin provisioning. No native FUA: the file is not
    /// opened O_DSYNC, so a FUA write is a write followed by <c>fsync</c>. Read-only opens keep
    /// only the read-side capabilities, plus <see cref="BlockDeviceCapabilities.ReadOnly"/>.
    /// </summary>
    public BlockDeviceCapabilities Capabilities { get; }

    /// <inheritdoc/>
    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBuffer(BlockRange.Read, lba, buffer.Length, _geometry, out long blockCount);
        if (error is not null)
            return ValueTask.FromException(error);
        if (blockCount == 0)
            return default;
        return ReadCoreAsync(lba * _geometry.LogicalBlockSize, buffer, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadCoreAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            while (!buffer.IsEmpty)
            {
                int read = await RandomAccess.ReadAsync(_handle, buffer, offset, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    throw new BlockDeviceException(BlockError.MediumError,
                        $"{BlockRange.Read} on '{Path}' hit the end of the file at byte {offset}: the file is shorter than the " +
                        $"device's {_geometry.SizeBytes} bytes (was it truncated underneath?).");
                buffer = buffer[read..];
                offset += read;
            }
        }
        catch (Exception e) when (FileErrors.IsOsError(e))
        {
            throw FileErrors.From(e, BlockRange.Read, Path);
        }
    }

    /// <summary>Writes the blocks; with <see cref="BlockWriteFlags.ForceUnitAccess"/>, then flushes the file.</summary>
    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBuffer(BlockRange.Write, lba, buffer.Length, _geometry, out long blockCount);
        if (error is not null)
            return ValueTask.FromException(error);
        if (_readOnly)
            return ValueTask.FromException(BlockRange.ReadOnly(BlockRange.Write, lba, blockCount));
        if (blockCount == 0)
            return default;
        return WriteCoreAsync(lba * _geometry.LogicalBlockSize, buffer, (flags & BlockWriteFlags.ForceUnitAccess) != 0, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteCoreAsync(long offset, ReadOnlyMemory<byte> buffer, bool forceUnitAccess, CancellationToken cancellationToken)
    {
        try
        {
            await RandomAccess.WriteAsync(_handle, buffer, offset, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (FileErrors.IsOsError(e))
        {
            throw FileErrors.From(e, BlockRange.Write, Path);
        }
        if (forceUnitAccess)
            await FlushCoreAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>fsync</c>s the file on a thread-pool thread. Does nothing on a read-only device, which has
    /// written nothing (and on Windows could not flush a handle opened for reading).
    /// </summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);
        return _readOnly ? default : new ValueTask(FlushCoreAsync(cancellationToken));
    }

    private async Task FlushCoreAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Run(() => RandomAccess.FlushToDisk(_handle), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (FileErrors.IsOsError(e))
        {
            throw FileErrors.From(e, "Flush", Path);
        }
    }

    /// <summary>
    /// On Linux punches a hole (the blocks are freed and read as zeros); where the file system
    /// cannot, writes zeros so the blocks still read as zeros. Elsewhere does nothing: unmap is advisory.
    /// </summary>
    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBlocks(BlockRange.Unmap, lba, blockCount, _geometry);
        if (error is not null)
            return ValueTask.FromException(error);
        if (_readOnly)
            return ValueTask.FromException(BlockRange.ReadOnly(BlockRange.Unmap, lba, blockCount));
        if (blockCount == 0 || !OperatingSystem.IsLinux())
            return default;
        return PunchOrWriteZerosAsync(lba, blockCount, cancellationToken);
    }

    [SupportedOSPlatform("linux")]
    private async ValueTask PunchOrWriteZerosAsync(long lba, long blockCount, CancellationToken cancellationToken)
    {
        if (!await TryFallocateAsync(punch: true, lba, blockCount, BlockRange.Unmap, cancellationToken).ConfigureAwait(false))
            await ZeroWriter.WriteAsync(this, lba, blockCount, BlockWriteFlags.None, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Zeroes the range. On Linux, with <see cref="WriteZeroesFlags.MayUnmap"/> a hole is punched
    /// first (freeing space, as SBC-4 WRITE SAME with UNMAP and nbdkit's file plugin prefer);
    /// otherwise, or where punching is unsupported, FALLOC_FL_ZERO_RANGE keeps the blocks allocated.
    /// When neither works, zeros are written, unless <see cref="WriteZeroesFlags.FastOnly"/> asks
    /// for <see cref="BlockError.NotSupported"/> instead. FUA flushes afterwards.
    /// </summary>
    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBlocks(BlockRange.WriteZeroes, lba, blockCount, _geometry);
        if (error is not null)
            return ValueTask.FromException(error);
        if (_readOnly)
            return ValueTask.FromException(BlockRange.ReadOnly(BlockRange.WriteZeroes, lba, blockCount));
        if (blockCount == 0)
            return default;
        return ZeroCoreAsync(lba, blockCount, flags, cancellationToken);
    }

    private async ValueTask ZeroCoreAsync(long lba, long blockCount, WriteZeroesFlags flags, CancellationToken cancellationToken)
    {
        bool done = false;
        if (OperatingSystem.IsLinux())
        {
            if ((flags & WriteZeroesFlags.MayUnmap) != 0)
                done = await TryFallocateAsync(punch: true, lba, blockCount, BlockRange.WriteZeroes, cancellationToken).ConfigureAwait(false);
            if (!done)
                done = await TryFallocateAsync(punch: false, lba, blockCount, BlockRange.WriteZeroes, cancellationToken).ConfigureAwait(false);
        }
        if (!done)
        {
            if ((flags & WriteZeroesFlags.FastOnly) != 0)
                throw new BlockDeviceException(BlockError.NotSupported,
                    $"{BlockRange.WriteZeroes} of {blockCount} block(s) at LBA {lba}: '{Path}' cannot be zeroed without writing zeros, and FastOnly forbids that.");
            await ZeroWriter.WriteAsync(this, lba, blockCount, BlockWriteFlags.None, cancellationToken).ConfigureAwait(false);
        }
        if ((flags & WriteZeroesFlags.ForceUnitAccess) != 0)
            await FlushCoreAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs fallocate off the caller's thread (freeing or zeroing a large range can take a while).
    /// False when the file system does not support the mode; that is remembered, so later
    /// requests go straight to the fallback.
    /// </summary>
    [SupportedOSPlatform("linux")]
    private async ValueTask<bool> TryFallocateAsync(bool punch, long lba, long blockCount, string operation, CancellationToken cancellationToken)
    {
        if (punch ? _punchUnsupported : _zeroRangeUnsupported)
            return false;
        long offset = lba * _geometry.LogicalBlockSize;
        long length = blockCount * _geometry.LogicalBlockSize;
        int errno;
        try
        {
            errno = await Task.Run(
                () => punch ? LinuxFile.PunchHole(_handle, offset, length) : LinuxFile.ZeroRange(_handle, offset, length),
                cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException e)
        {
            throw FileErrors.From(e, operation, Path);
        }
        if (errno == 0)
            return true;
        if (!LinuxFile.IsUnsupported(errno))
            throw FileErrors.FromErrno(errno, operation, Path);
        if (punch)
            _punchUnsupported = true;
        else
            _zeroRangeUnsupported = true;
        return false;
    }

    /// <summary>
    /// On Linux maps the range with SEEK_DATA / SEEK_HOLE: holes are reported
    /// <see cref="BlockExtentFlags.Hole"/> | <see cref="BlockExtentFlags.Zero"/>, the rest
    /// <see cref="BlockExtentFlags.Data"/>. A block only partly inside a hole counts as data. Elsewhere
    /// the whole range is one data extent. Stops early only when <paramref name="destination"/> is full.
    /// </summary>
    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        BlockDeviceException? error = BlockRange.CheckBlocks(BlockRange.GetExtents, lba, blockCount, _geometry);
        if (error is not null)
            return ValueTask.FromException<int>(error);
        if (blockCount == 0 || destination.IsEmpty)
            return new ValueTask<int>(0);
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<int>(cancellationToken);
        if (!OperatingSystem.IsLinux())
        {
            destination.Span[0] = new BlockExtent(lba, blockCount, BlockExtentFlags.Data);
            return new ValueTask<int>(1);
        }
        try
        {
            return new ValueTask<int>(MapExtents(lba, blockCount, destination.Span));
        }
        catch (ObjectDisposedException e)
        {
            return ValueTask.FromException<int>(FileErrors.From(e, BlockRange.GetExtents, Path));
        }
        catch (BlockDeviceException e)
        {
            return ValueTask.FromException<int>(e);
        }
    }

    [SupportedOSPlatform("linux")]
    private int MapExtents(long lba, long blockCount, Span<BlockExtent> destination)
    {
        long blockSize = _geometry.LogicalBlockSize;
        long end = lba + blockCount;
        var extents = new ExtentBuilder(destination);
        for (long next = lba; next < end;)
        {
            long position = next * blockSize;
            long data = LinuxFile.NextData(_handle, position, out int errno);
            if (data < 0)
            {
                // ENXIO: no data from here to the end of the file.
                if (errno != LinuxFile.ENXIO)
                    throw FileErrors.FromErrno(errno, BlockRange.GetExtents, Path);
                data = long.MaxValue;
            }
            long runEnd;
            BlockExtentFlags flags;
            if (data - position >= blockSize)
            {
                runEnd = Math.Min(end, data / blockSize); // only whole blocks of hole
                flags = BlockExtentFlags.Hole | BlockExtentFlags.Zero;
            }
            else
            {
                long hole = LinuxFile.NextHole(_handle, data, out errno);
                if (hole < 0)
                {
                    if (errno != LinuxFile.ENXIO)
                        throw FileErrors.FromErrno(errno, BlockRange.GetExtents, Path);
                    hole = long.MaxValue; // the file shrank meanwhile: "data" is the safe answer
                }
                runEnd = Math.Min(end, hole / blockSize + (hole % blockSize == 0 ? 0 : 1));
                flags = BlockExtentFlags.Data;
            }
            // If the file changes between the two seeks the run can come out empty; always move on.
            runEnd = Math.Max(runEnd, next + 1);
            if (!extents.TryAdd(next, runEnd - next, flags))
                break;
            next = runEnd;
        }
        return extents.Count;
    }

    /// <summary>Closes the file. Requests still running or made later fail with <see cref="BlockError.NotReady"/>.</summary>
    public ValueTask DisposeAsync()
    {
        _handle.Dispose();
        return default;
    }
}
