using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using StorSharp.Block;

namespace StorSharp.Images.Qcow2;

/// <summary>
/// A qcow2 image (versions 2 and 3) as a block device: guest offsets are mapped through the L1 and L2
/// tables to host clusters; unallocated clusters read from the backing device (or as zeros), zero
/// clusters read as zeros, compressed clusters are inflated (raw deflate). Writes allocate clusters
/// at the end of the file and keep the image consistent across a crash (see <see cref="Qcow2Refcounts"/>).
/// </summary>
/// <remarks>
/// <para>Write ordering for each L2 table a request touches: (1) data is written to new clusters
/// (partial clusters are completed from the old contents: backing, zeros, or the inflated compressed
/// cluster, so a write to a compressed cluster becomes a copy into a new cluster); a new L2 table is
/// written in full before anything points to it; (2) refcounts of the new clusters are raised;
/// (3) flush; (4) the L2 entries (and, for a new table, the L1 entry) are written; (5) when clusters
/// were dropped (overwritten compressed clusters, unmapped clusters), flush, then their refcounts are
/// lowered. A crash leaves at worst leaked clusters, never an entry pointing at unwritten data or a
/// referenced cluster with a refcount of 0. Writes into a cluster already owned (COPIED flag) go in place
/// with no metadata change.</para>
/// <para>Concurrency: one asynchronous lock guards the tables; reads hold it only to look up a mapping,
/// writes, zeroing and extent queries hold it for the whole request. No thread is ever blocked.</para>
/// <para>Ranges are not checked here; put a <see cref="CheckedBlockDevice"/> above it.</para>
/// </remarks>
public sealed class Qcow2BlockDevice : IBlockDevice
{
    private const ulong OffsetMask = 0x00FF_FFFF_FFFF_FE00;
    private const ulong CopiedFlag = 1UL << 63, CompressedFlag = 1UL << 62, ZeroFlag = 1;
    private const ulong L1Reserved = 0x7F00_0000_0000_01FF;

    private readonly Qcow2File _file;
    private readonly Qcow2Header _header;
    private readonly ulong[] _l1;
    private readonly Qcow2L2Cache _l2Cache;
    private readonly Qcow2Refcounts? _refcounts;
    private readonly IBlockDevice? _backing;
    private readonly bool _ownsBacking;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly int _clusterBits;
    private readonly int _clusterSize;
    private readonly int _l2Entries;
    private readonly List<(int Index, ulong Entry)> _pendingL2 = new();
    private readonly List<long> _pendingIncrements = new();
    private readonly List<long> _pendingDecrements = new();
    private long _fileEnd;
    private int _disposed;

    private Qcow2BlockDevice(Qcow2File file, Qcow2Header header, ulong[] l1, Qcow2Refcounts? refcounts, IBlockDevice? backing, bool ownsBacking, int blockSize, long fileLength)
    {
        _file = file;
        _header = header;
        _l1 = l1;
        _refcounts = refcounts;
        _backing = backing;
        _ownsBacking = ownsBacking;
        _clusterBits = header.ClusterBits;
        _clusterSize = header.ClusterSize;
        _l2Entries = header.L2Entries;
        _l2Cache = new Qcow2L2Cache(_clusterSize);
        _fileEnd = fileLength;
        Geometry = new BlockGeometry(blockSize, header.Size / blockSize, OptimalTransferBlocks: Math.Max(1, _clusterSize / blockSize));
        var capabilities = BlockDeviceCapabilities.Extents | BlockDeviceCapabilities.ThinProvisioned | BlockDeviceCapabilities.MultiConnection;
        capabilities |= refcounts is null
            ? BlockDeviceCapabilities.ReadOnly
            : BlockDeviceCapabilities.Flush | BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes | BlockDeviceCapabilities.WriteZeroes;
        Capabilities = capabilities;
    }

    /// <summary>The image file.</summary>
    public string Path => _file.Path;

    /// <summary>The qcow2 version of the image (2 or 3).</summary>
    public int Version => _header.Version;

    /// <summary>The cluster size in bytes (512 B to 2 MiB).</summary>
    public int ClusterSize => _clusterSize;

    /// <summary>The backing file named in the header, or null.</summary>
    public string? BackingFile => _header.BackingFile;

    /// <inheritdoc/>
    public BlockGeometry Geometry { get; }

    /// <summary>
    /// Extents (allocation map from the L2 tables), thin provisioning and multiple connections always;
    /// when writable also flush, unmap (unmapped clusters read as zeros, never as the backing file's data)
    /// and native zeroing. A read-only open (by request, or because the image is marked dirty or corrupt,
    /// or has internal snapshots) declares <see cref="BlockDeviceCapabilities.ReadOnly"/>.
    /// </summary>
    public BlockDeviceCapabilities Capabilities { get; }

    private static readonly AsyncLocal<int> s_depth = new();

    /// <summary>Backing chains deeper than this are refused (a chain that loops back on itself would never end).</summary>
    internal const int MaxBackingDepth = 32;

    /// <summary>
    /// Opens a qcow2 image. <paramref name="backing"/>, when given, is used instead of the backing file the
    /// header names (the copy-on-write overlay passes its base device this way).
    /// </summary>
    /// <exception cref="DiskImageException">The image is corrupt, truncated, or uses something unsupported; the message names the field and offset.</exception>
    internal static async ValueTask<Qcow2BlockDevice> OpenAsync(string path, DiskImageOpenOptions options, IBlockDevice? backing, bool ownsBacking, CancellationToken cancellationToken)
    {
        int depth = s_depth.Value;
        if (depth >= MaxBackingDepth)
            throw new DiskImageException($"{path}: qcow2 backing chain is deeper than {MaxBackingDepth} images (does it loop back on itself?)");
        var handle = options.ReadOnly
            ? File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous)
            : File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous);
        var file = new Qcow2File(handle, path);
        IBlockDevice? opened = null;
        try
        {
            long length = file.Length;
            byte[] head = new byte[Qcow2Header.BytesToRead(length)];
            await file.ReadExactAsync(head, 0, "header", cancellationToken).ConfigureAwait(false);
            var header = Qcow2Header.Parse(path, head, length);
            int blockSize = options.LogicalBlockSize;
            if (blockSize is not (512 or 4096))
                throw new ArgumentException($"Logical block size {blockSize} is not supported: use 512 or 4096 bytes.", nameof(options));
            if (header.Size == 0 || header.Size % blockSize != 0)
                throw new DiskImageException($"{path}: qcow2 header at offset 24: virtual size {header.Size} is not a positive whole number of {blockSize}-byte blocks");
            if (!options.ReadOnly)
            {
                string? why = (header.IncompatibleFeatures & Qcow2Header.CorruptBit) != 0 ? "is marked corrupt (incompatible feature bit 1)"
                    : (header.IncompatibleFeatures & Qcow2Header.DirtyBit) != 0 ? "is marked dirty (incompatible feature bit 0: refcounts may be stale)"
                    : header.SnapshotCount != 0 ? $"has {header.SnapshotCount} internal snapshot(s), whose shared clusters this implementation does not copy on write"
                    : null;
                if (why is not null)
                    throw new DiskImageException($"{path}: qcow2 image {why}; it can only be opened read-only (repair it with 'qemu-img check -r all')");
            }
            ulong[] l1 = await LoadL1Async(file, header, length, cancellationToken).ConfigureAwait(false);
            Qcow2Refcounts? refcounts = options.ReadOnly ? null : await Qcow2Refcounts.LoadAsync(file, header, length, cancellationToken).ConfigureAwait(false);

            if (backing is null && header.BackingFile is not null)
            {
                string name = header.BackingFile;
                string full = System.IO.Path.IsPathRooted(name) ? name : System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".", name);
                if (!File.Exists(full))
                    throw new DiskImageException($"{path}: qcow2 backing file '{name}' (header offset {header.BackingFileOffset}) does not exist (looked for {full})");
                if (header.BackingFormat is { } named && DiskImage.FormatNames.Contains(named) && named != "auto")
                {
                    // qemu's -F: the header names the backing format; a base whose contents claim another
                    // format (a raw disk holding a qcow2 header, say) must not be read as that format.
                    string found = (await DiskImage.DetectAsync(full, cancellationToken).ConfigureAwait(false))?.Name ?? "raw";
                    if (found != named)
                        throw new DiskImageException($"{path}: qcow2 backing file '{name}' is {found} by its contents but the image's backing format extension says {named}");
                }
                s_depth.Value = depth + 1;
                try
                {
                    var backingOptions = options with { ReadOnly = true };
                    opened = options.OpenBacking is { } open
                        ? await open(full, backingOptions, cancellationToken).ConfigureAwait(false)
                        : await DiskImage.OpenAsync(full, backingOptions, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    s_depth.Value = depth;
                }
                backing = opened;
                ownsBacking = true;
            }

            if (refcounts is not null && header.AutoclearFeatures != 0)
            {
                // Autoclear bits describe extensions (bitmaps...) that writes by a program unaware of
                // them invalidate; the spec says to clear the bits one does not understand.
                await file.WriteAsync(new byte[8], 88, "header autoclear features", cancellationToken).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            return new Qcow2BlockDevice(file, header, l1, refcounts, backing, ownsBacking, blockSize, length);
        }
        catch (BlockDeviceException e) when (e.InnerException is DiskImageException inner)
        {
            file.Dispose();
            if (opened is not null) await opened.DisposeAsync().ConfigureAwait(false);
            throw new DiskImageException(inner.Message, e);
        }
        catch
        {
            file.Dispose();
            if (opened is not null) await opened.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async ValueTask<ulong[]> LoadL1Async(Qcow2File file, Qcow2Header header, long fileLength, CancellationToken cancellationToken)
    {
        byte[] raw = new byte[header.L1Size * 8];
        await file.ReadExactAsync(raw, header.L1TableOffset, "L1 table", cancellationToken).ConfigureAwait(false);
        var l1 = new ulong[header.L1Size];
        long refTableBytes = (long)header.RefcountTableClusters * header.ClusterSize;
        for (int i = 0; i < l1.Length; i++)
        {
            ulong entry = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
            long offset = (long)(entry & OffsetMask);
            long at = header.L1TableOffset + i * 8L;
            if (offset == 0) { l1[i] = 0; continue; }
            if ((entry & L1Reserved) != 0)
                throw new DiskImageException($"{file.Path}: qcow2 L1 table entry {i} at offset 0x{at:X}: reserved bits are set (0x{entry:X16})");
            if (offset % header.ClusterSize != 0 || offset > fileLength - header.ClusterSize)
                throw new DiskImageException($"{file.Path}: qcow2 L1 table entry {i} at offset 0x{at:X}: L2 table offset 0x{offset:X} is not cluster aligned or lies outside the file ({fileLength} bytes)");
            if (offset < header.ClusterSize
                || Qcow2Header.Overlaps(offset, header.ClusterSize, header.L1TableOffset, raw.Length)
                || Qcow2Header.Overlaps(offset, header.ClusterSize, header.RefcountTableOffset, refTableBytes))
                throw new DiskImageException($"{file.Path}: qcow2 L1 table entry {i} at offset 0x{at:X}: L2 table 0x{offset:X} overlaps the header, the L1 table or the refcount table");
            l1[i] = entry;
        }
        return l1;
    }

    private enum Kind { Unallocated, Zero, ZeroAllocated, Data, Compressed }

    private Kind Classify(ulong entry)
    {
        if ((entry & CompressedFlag) != 0) return Kind.Compressed;
        bool zero = _header.Version >= 3 && (entry & ZeroFlag) != 0;
        bool host = (entry & OffsetMask) != 0;
        return zero ? (host ? Kind.ZeroAllocated : Kind.Zero) : host ? Kind.Data : Kind.Unallocated;
    }

    private int CompressedOffsetBits => 62 - (_clusterBits - 8);

    /// <summary>Host offset and byte length of a compressed cluster's deflate stream.</summary>
    private (long Host, int Length) CompressedExtent(ulong entry, long entryOffset)
    {
        int x = CompressedOffsetBits;
        long host = (long)(entry & ((1UL << x) - 1));
        long sectors = (long)((entry & ~(CopiedFlag | CompressedFlag)) >> x) + 1;
        long length = sectors * 512 - (host & 511);
        if (host < _clusterSize || host >= _fileEnd || length <= 0)
            throw _file.Corrupt($"L2 entry at offset 0x{entryOffset:X}: compressed cluster at host offset 0x{host:X} lies outside the file or in the header");
        return (host, (int)Math.Min(length, _fileEnd - host));
    }

    /// <summary>The L2 table for <paramref name="l1Index"/>, or null when its L1 entry is unallocated. Caller holds the lock.</summary>
    private async ValueTask<byte[]?> GetL2Async(int l1Index, CancellationToken cancellationToken)
    {
        if (l1Index >= _l1.Length) throw _file.Corrupt($"guest cluster beyond the L1 table ({_l1.Length} entries)");
        ulong l1Entry = _l1[l1Index];
        if ((l1Entry & OffsetMask) == 0) return null;
        byte[]? table = _l2Cache.Get(l1Index);
        if (table is not null) return table;
        table = _l2Cache.Rent();
        await _file.ReadExactAsync(table, (long)(l1Entry & OffsetMask), $"L2 table (L1 entry {l1Index})", cancellationToken).ConfigureAwait(false);
        _l2Cache.Add(l1Index, table);
        return table;
    }

    private long L2Offset(int l1Index) => (long)(_l1[l1Index] & OffsetMask);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ulong> LookupAsync(long clusterIndex, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            byte[]? table = await GetL2Async((int)(clusterIndex / _l2Entries), cancellationToken).ConfigureAwait(false);
            return table is null ? 0 : BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan((int)(clusterIndex % _l2Entries) * 8));
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <inheritdoc/>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        long offset = lba * Geometry.LogicalBlockSize;
        while (!buffer.IsEmpty)
        {
            long cluster = offset >> _clusterBits;
            int inCluster = (int)(offset & (_clusterSize - 1));
            int n = Math.Min(buffer.Length, _clusterSize - inCluster);
            ulong entry = await LookupAsync(cluster, cancellationToken).ConfigureAwait(false);
            await ReadMappedAsync(entry, cluster, inCluster, buffer[..n], cancellationToken).ConfigureAwait(false);
            buffer = buffer[n..];
            offset += n;
        }
    }

    /// <summary>Reads part of guest cluster <paramref name="cluster"/> whose L2 entry is <paramref name="entry"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadMappedAsync(ulong entry, long cluster, int inCluster, Memory<byte> destination, CancellationToken cancellationToken)
    {
        long guest = (cluster << _clusterBits) + inCluster;
        switch (Classify(entry))
        {
            case Kind.Unallocated:
                await ReadBackingAsync(guest, destination, cancellationToken).ConfigureAwait(false);
                break;
            case Kind.Zero:
            case Kind.ZeroAllocated:
                destination.Span.Clear();
                break;
            case Kind.Data:
                await ReadHostAsync(CheckedHost(entry, cluster), inCluster, destination, cancellationToken).ConfigureAwait(false);
                break;
            case Kind.Compressed:
                byte[] plain = ArrayPool<byte>.Shared.Rent(_clusterSize);
                try
                {
                    await InflateAsync(entry, cluster, plain, cancellationToken).ConfigureAwait(false);
                    plain.AsSpan(inCluster, destination.Length).CopyTo(destination.Span);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(plain);
                }
                break;
        }
    }

    private long CheckedHost(ulong entry, long cluster)
    {
        long host = (long)(entry & OffsetMask);
        if ((host & (_clusterSize - 1)) != 0 || host < _clusterSize || host >= _fileEnd)
            throw _file.Corrupt($"L2 entry for guest offset 0x{cluster << _clusterBits:X}: data cluster offset 0x{host:X} is not cluster aligned, is in the header, or lies past the end of the file ({_fileEnd} bytes)");
        return host;
    }

    /// <summary>Reads a data cluster's bytes; the part of a cluster past the end of the file reads as zeros (as qemu does).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadHostAsync(long host, int inCluster, Memory<byte> destination, CancellationToken cancellationToken)
    {
        long offset = host + inCluster;
        try
        {
            while (!destination.IsEmpty)
            {
                int n = await RandomAccess.ReadAsync(_file.Handle, destination, offset, cancellationToken).ConfigureAwait(false);
                if (n == 0) { destination.Span.Clear(); break; }
                destination = destination[n..];
                offset += n;
            }
        }
        catch (IOException e)
        {
            throw new BlockDeviceException(BlockError.MediumError, $"{_file.Path}: reading data cluster 0x{host:X} failed: {e.Message}", e);
        }
    }

    private async ValueTask InflateAsync(ulong entry, long cluster, byte[] plain, CancellationToken cancellationToken)
    {
        var (host, length) = CompressedExtent(entry, cluster << _clusterBits);
        if (length > 2 * _clusterSize + 512)
            throw _file.Corrupt($"compressed cluster at host offset 0x{host:X} claims {length} bytes, more than a cluster can compress to");
        byte[] packed = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            await _file.ReadExactAsync(packed.AsMemory(0, length), host, "compressed cluster", cancellationToken).ConfigureAwait(false);
            int total;
            try
            {
                using var input = new MemoryStream(packed, 0, length, writable: false);
                using var inflater = new DeflateStream(input, CompressionMode.Decompress);
                total = inflater.ReadAtLeast(plain.AsSpan(0, _clusterSize), _clusterSize, throwOnEndOfStream: false);
            }
            catch (InvalidDataException e)
            {
                throw _file.Corrupt($"compressed cluster at host offset 0x{host:X} ({length} bytes) is not valid deflate data: {e.Message}");
            }
            if (total != _clusterSize)
                throw _file.Corrupt($"compressed cluster at host offset 0x{host:X} inflates to {total} bytes, not the cluster size {_clusterSize}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(packed);
        }
    }

    /// <summary>Reads guest bytes from the backing device; past its end (or with no backing) they are zeros.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadBackingAsync(long guest, Memory<byte> destination, CancellationToken cancellationToken)
    {
        long backingBytes = _backing?.Geometry.SizeBytes ?? 0;
        int inside = (int)Math.Clamp(backingBytes - guest, 0, destination.Length);
        destination.Span[inside..].Clear();
        if (inside == 0) return;
        int bs = _backing!.Geometry.LogicalBlockSize;
        if (guest % bs == 0 && inside % bs == 0)
        {
            await _backing.ReadAsync(guest / bs, destination[..inside], cancellationToken).ConfigureAwait(false);
            return;
        }
        long start = guest / bs * bs;
        long end = Math.Min(backingBytes, (guest + inside + bs - 1) / bs * bs);
        byte[] bounce = ArrayPool<byte>.Shared.Rent((int)(end - start));
        try
        {
            await _backing.ReadAsync(start / bs, bounce.AsMemory(0, (int)(end - start)), cancellationToken).ConfigureAwait(false);
            bounce.AsSpan((int)(guest - start), inside).CopyTo(destination.Span);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bounce);
        }
    }

    /// <inheritdoc/>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        ThrowIfReadOnly("Write", lba, buffer.Length / Geometry.LogicalBlockSize);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            await WriteLockedAsync(lba * Geometry.LogicalBlockSize, buffer, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _l2Cache.Clear(); // the file is the truth after a failure part way through
            throw;
        }
        finally
        {
            _lock.Release();
        }
        if ((flags & BlockWriteFlags.ForceUnitAccess) != 0)
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteLockedAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            long cluster = offset >> _clusterBits;
            int l1Index = (int)(cluster / _l2Entries);
            var (table, isNew) = await GetL2ForWriteAsync(l1Index, cancellationToken).ConfigureAwait(false);
            // Every cluster of this request under this L2 table, then one commit.
            while (!data.IsEmpty && (offset >> _clusterBits) / _l2Entries == l1Index)
            {
                cluster = offset >> _clusterBits;
                int l2Index = (int)(cluster % _l2Entries);
                int inCluster = (int)(offset & (_clusterSize - 1));
                int n = Math.Min(data.Length, _clusterSize - inCluster);
                ulong entry = BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan(l2Index * 8));
                await WriteClusterAsync(entry, cluster, l2Index, inCluster, data[..n], cancellationToken).ConfigureAwait(false);
                data = data[n..];
                offset += n;
            }
            await CommitAsync(l1Index, table, isNew, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes into one guest cluster: in place when the image owns it, else into a new cluster completed from the old contents.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteClusterAsync(ulong entry, long cluster, int l2Index, int inCluster, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        Kind kind = Classify(entry);
        if (kind == Kind.Data && (entry & CopiedFlag) != 0)
        {
            await _file.WriteAsync(data, CheckedHost(entry, cluster) + inCluster, "data cluster", cancellationToken).ConfigureAwait(false);
            return;
        }
        byte[] whole = ArrayPool<byte>.Shared.Rent(_clusterSize);
        try
        {
            if (data.Length != _clusterSize)
                await ReadWholeClusterAsync(entry, cluster, whole, cancellationToken).ConfigureAwait(false);
            data.Span.CopyTo(whole.AsSpan(inCluster));
            long target;
            if (kind == Kind.ZeroAllocated && (entry & CopiedFlag) != 0)
                target = CheckedHost(entry, cluster); // a preallocated zero cluster: reuse it, only the zero flag changes
            else
            {
                target = await _refcounts!.AllocateAsync(1, cancellationToken).ConfigureAwait(false);
                _pendingIncrements.Add(target);
                AddDropped(entry, cluster);
            }
            await _file.WriteAsync(whole.AsMemory(0, _clusterSize), target, "new data cluster", cancellationToken).ConfigureAwait(false);
            _fileEnd = Math.Max(_fileEnd, target + _clusterSize);
            _pendingL2.Add((l2Index, (ulong)target | CopiedFlag));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(whole);
        }
    }

    /// <summary>The whole current contents of a guest cluster (the part past the virtual size is zeros).</summary>
    private async ValueTask ReadWholeClusterAsync(ulong entry, long cluster, byte[] whole, CancellationToken cancellationToken)
    {
        long guest = cluster << _clusterBits;
        int inside = (int)Math.Min(_clusterSize, _header.Size - guest);
        whole.AsSpan(inside, _clusterSize - inside).Clear();
        if (Classify(entry) == Kind.Compressed)
            await InflateAsync(entry, cluster, whole, cancellationToken).ConfigureAwait(false);
        else
            await ReadMappedAsync(entry, cluster, 0, whole.AsMemory(0, inside), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Queues the host clusters an entry holds for a refcount decrement once nothing references them.</summary>
    private void AddDropped(ulong entry, long cluster)
    {
        switch (Classify(entry))
        {
            case Kind.Data:
            case Kind.ZeroAllocated:
                _pendingDecrements.Add(CheckedHost(entry, cluster));
                break;
            case Kind.Compressed:
                var (host, length) = CompressedExtent(entry, cluster << _clusterBits);
                for (long c = host & ~(long)(_clusterSize - 1); c < host + length; c += _clusterSize)
                    _pendingDecrements.Add(c);
                break;
        }
    }

    private async ValueTask<(byte[] Table, bool IsNew)> GetL2ForWriteAsync(int l1Index, CancellationToken cancellationToken)
    {
        byte[]? table = await GetL2Async(l1Index, cancellationToken).ConfigureAwait(false);
        if (table is not null)
        {
            if ((_l1[l1Index] & CopiedFlag) == 0)
                throw _file.Corrupt($"L2 table 0x{L2Offset(l1Index):X} (L1 entry {l1Index}) is shared (COPIED flag clear); writing it would need copy-on-write of L2 tables, which is not supported");
            return (table, false);
        }
        table = _l2Cache.Rent();
        Array.Clear(table);
        return (table, true);
    }

    /// <summary>Makes the queued changes to one L2 table durable in the order described on the class.</summary>
    private async ValueTask CommitAsync(int l1Index, byte[] table, bool isNew, CancellationToken cancellationToken)
    {
        try
        {
            if (_pendingL2.Count == 0) return;
            long tableOffset = 0;
            if (isNew)
            {
                tableOffset = await _refcounts!.AllocateAsync(1, cancellationToken).ConfigureAwait(false);
                _pendingIncrements.Add(tableOffset);
            }
            int first = int.MaxValue, last = -1;
            foreach (var (index, entry) in _pendingL2)
            {
                BinaryPrimitives.WriteUInt64BigEndian(table.AsSpan(index * 8), entry);
                first = Math.Min(first, index);
                last = Math.Max(last, index);
            }
            if (isNew)
            {
                await _file.WriteAsync(table, tableOffset, "new L2 table", cancellationToken).ConfigureAwait(false);
                _fileEnd = Math.Max(_fileEnd, tableOffset + _clusterSize);
            }
            foreach (long cluster in _pendingIncrements)
                await _refcounts!.IncrementAsync(cluster, cancellationToken).ConfigureAwait(false);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (isNew)
            {
                byte[] l1Entry = new byte[8];
                ulong value = (ulong)tableOffset | CopiedFlag;
                BinaryPrimitives.WriteUInt64BigEndian(l1Entry, value);
                await _file.WriteAsync(l1Entry, _header.L1TableOffset + l1Index * 8L, "L1 table entry", cancellationToken).ConfigureAwait(false);
                _l1[l1Index] = value;
                _l2Cache.Add(l1Index, table);
            }
            else
                await _file.WriteAsync(table.AsMemory(first * 8, (last - first + 1) * 8), L2Offset(l1Index) + first * 8L, "L2 table entries", cancellationToken).ConfigureAwait(false);
            if (_pendingDecrements.Count > 0)
            {
                await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
                foreach (long cluster in _pendingDecrements)
                    await _refcounts!.DecrementAsync(cluster, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _pendingL2.Clear();
            _pendingIncrements.Clear();
            _pendingDecrements.Clear();
        }
    }

    /// <inheritdoc/>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        _refcounts is null ? default : _file.FlushAsync(cancellationToken);

    /// <summary>Deallocates: whole clusters lose their data (they read as zeros, never as the backing file); partial clusters are written with zeros.</summary>
    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) =>
        WriteZeroesAsync(lba, blockCount, WriteZeroesFlags.MayUnmap, cancellationToken);

    /// <summary>
    /// Zeroes blocks. Whole clusters become zero clusters (version 3; with <see cref="WriteZeroesFlags.MayUnmap"/> or when
    /// nothing was allocated their host cluster is freed, otherwise it stays allocated) or, in a version 2 image with
    /// no backing file, unallocated clusters. Partial clusters, and version 2 images with a backing file (which cannot
    /// express "zero" in an L2 entry), are written with zeros.
    /// </summary>
    public async ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default)
    {
        ThrowIfReadOnly("Write zeroes", lba, blockCount);
        bool mayUnmap = (flags & WriteZeroesFlags.MayUnmap) != 0;
        long offset = lba * Geometry.LogicalBlockSize;
        long end = offset + blockCount * Geometry.LogicalBlockSize;
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            if (_header.Version < 3 && _backing is not null)
                await WriteZeroBytesAsync(offset, end, cancellationToken).ConfigureAwait(false);
            else
            {
                long wholeStart = (offset + _clusterSize - 1) & ~(long)(_clusterSize - 1);
                long wholeEnd = end & ~(long)(_clusterSize - 1);
                if (wholeStart >= wholeEnd)
                    await WriteZeroBytesAsync(offset, end, cancellationToken).ConfigureAwait(false);
                else
                {
                    await WriteZeroBytesAsync(offset, wholeStart, cancellationToken).ConfigureAwait(false);
                    await ZeroClustersAsync(wholeStart >> _clusterBits, wholeEnd >> _clusterBits, mayUnmap, cancellationToken).ConfigureAwait(false);
                    await WriteZeroBytesAsync(wholeEnd, end, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            _l2Cache.Clear();
            throw;
        }
        finally
        {
            _lock.Release();
        }
        if ((flags & WriteZeroesFlags.ForceUnitAccess) != 0)
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes zero bytes over [start, end), skipping clusters that already read as zeros. Caller holds the lock.</summary>
    private async ValueTask WriteZeroBytesAsync(long start, long end, CancellationToken cancellationToken)
    {
        if (start >= end) return;
        byte[] zeros = ArrayPool<byte>.Shared.Rent(_clusterSize);
        try
        {
            Array.Clear(zeros, 0, _clusterSize);
            while (start < end)
            {
                long cluster = start >> _clusterBits;
                int inCluster = (int)(start & (_clusterSize - 1));
                int n = (int)Math.Min(end - start, _clusterSize - inCluster);
                byte[]? table = await GetL2Async((int)(cluster / _l2Entries), cancellationToken).ConfigureAwait(false);
                ulong entry = table is null ? 0 : BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan((int)(cluster % _l2Entries) * 8));
                if (!ReadsAsZeros(entry, start))
                    await WriteLockedAsync(start, zeros.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                start += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeros);
        }
    }

    private bool ReadsAsZeros(ulong entry, long guest) => Classify(entry) switch
    {
        Kind.Zero or Kind.ZeroAllocated => true,
        Kind.Unallocated => _backing is null || guest >= _backing.Geometry.SizeBytes,
        _ => false,
    };

    /// <summary>Turns guest clusters [first, end) into zero or unallocated clusters, table by table. Caller holds the lock.</summary>
    private async ValueTask ZeroClustersAsync(long first, long end, bool mayUnmap, CancellationToken cancellationToken)
    {
        while (first < end)
        {
            int l1Index = (int)(first / _l2Entries);
            long tableEnd = Math.Min(end, ((long)l1Index + 1) * _l2Entries);
            byte[]? existing = await GetL2Async(l1Index, cancellationToken).ConfigureAwait(false);
            if (existing is null && _backing is null)
            {
                first = tableEnd; // all unallocated with nothing underneath: already zeros
                continue;
            }
            var (table, isNew) = await GetL2ForWriteAsync(l1Index, cancellationToken).ConfigureAwait(false);
            for (long cluster = first; cluster < tableEnd; cluster++)
            {
                int l2Index = (int)(cluster % _l2Entries);
                ulong entry = BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan(l2Index * 8));
                Kind kind = Classify(entry);
                ulong updated;
                if (!mayUnmap && _header.Version >= 3 && (kind is Kind.Data or Kind.ZeroAllocated) && (entry & CopiedFlag) != 0)
                    updated = (entry & OffsetMask) | CopiedFlag | ZeroFlag; // keep the allocation
                else
                {
                    updated = _backing is not null ? ZeroFlag : 0;
                    if (updated != entry) AddDropped(entry, cluster);
                }
                if (updated != entry) _pendingL2.Add((l2Index, updated));
            }
            await CommitAsync(l1Index, table, isNew, cancellationToken).ConfigureAwait(false);
            first = tableEnd;
        }
    }

    /// <summary>
    /// Extents from the L2 tables: data and compressed clusters are data; zero clusters are zero (and a hole when no
    /// host cluster is kept); unallocated clusters are a hole reading as zeros, or, when a backing device is
    /// underneath, whatever that device reports for the range.
    /// </summary>
    public async ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        int bs = Geometry.LogicalBlockSize;
        long offset = lba * bs, end = (lba + blockCount) * bs;
        int count = 0;
        BlockExtent[] backingExtents = ArrayPool<BlockExtent>.Shared.Rent(16);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            while (offset < end && count < destination.Length)
            {
                long cluster = offset >> _clusterBits;
                byte[]? table = await GetL2Async((int)(cluster / _l2Entries), cancellationToken).ConfigureAwait(false);
                ulong entry = table is null ? 0 : BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan((int)(cluster % _l2Entries) * 8));
                Kind kind = Classify(entry);
                long next = Math.Min(end, RunEnd(table, cluster, kind) << _clusterBits);
                if (kind == Kind.Unallocated && _backing is not null && offset < _backing.Geometry.SizeBytes)
                {
                    long backingEnd = Math.Min(next, _backing.Geometry.SizeBytes);
                    if (_backing.Geometry.LogicalBlockSize != bs || (_backing.Capabilities & BlockDeviceCapabilities.Extents) == 0)
                        count = Add(destination.Span, count, offset / bs, (backingEnd - offset) / bs, BlockExtentFlags.Data);
                    else
                    {
                        long at = offset;
                        while (at < backingEnd && count < destination.Length)
                        {
                            int got = await _backing.GetExtentsAsync(at / bs, (backingEnd - at) / bs, backingExtents.AsMemory(0, 16), cancellationToken).ConfigureAwait(false);
                            if (got <= 0) break;
                            for (int i = 0; i < got && at < backingEnd; i++)
                            {
                                long blocks = Math.Min(backingExtents[i].BlockCount, (backingEnd - at) / bs);
                                if (blocks <= 0) break;
                                count = Add(destination.Span, count, at / bs, blocks, backingExtents[i].Flags);
                                at += blocks * bs;
                            }
                        }
                        if (at < backingEnd) break; // destination full
                    }
                    if (backingEnd < next && count < destination.Length)
                        count = Add(destination.Span, count, backingEnd / bs, (next - backingEnd) / bs, BlockExtentFlags.Hole | BlockExtentFlags.Zero);
                }
                else
                {
                    BlockExtentFlags flags = kind switch
                    {
                        Kind.Data or Kind.Compressed => BlockExtentFlags.Data,
                        Kind.ZeroAllocated => BlockExtentFlags.Zero,
                        _ => BlockExtentFlags.Hole | BlockExtentFlags.Zero,
                    };
                    count = Add(destination.Span, count, offset / bs, (next - offset) / bs, flags);
                }
                offset = next;
            }
            return count;
        }
        finally
        {
            _lock.Release();
            ArrayPool<BlockExtent>.Shared.Return(backingExtents);
        }
    }

    /// <summary>The guest cluster after the run of clusters from <paramref name="cluster"/> that share <paramref name="kind"/>, within one L2 table.</summary>
    private long RunEnd(byte[]? table, long cluster, Kind kind)
    {
        long tableEnd = (cluster / _l2Entries + 1) * _l2Entries;
        if (table is null) return tableEnd;
        long next = cluster + 1;
        while (next < tableEnd && Classify(BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan((int)(next % _l2Entries) * 8))) == kind)
            next++;
        return next;
    }

    /// <summary>Appends a run, merging it into the previous extent when it continues it with the same flags. Returns the new count.</summary>
    private static int Add(Span<BlockExtent> extents, int count, long lba, long blocks, BlockExtentFlags flags)
    {
        if (blocks <= 0) return count;
        if (count > 0 && extents[count - 1].Flags == flags && extents[count - 1].Lba + extents[count - 1].BlockCount == lba)
        {
            extents[count - 1] = extents[count - 1] with { BlockCount = extents[count - 1].BlockCount + blocks };
            return count;
        }
        if (count == extents.Length) return count;
        extents[count] = new BlockExtent(lba, blocks, flags);
        return count + 1;
    }

    /// <summary>
    /// For the copy-on-write overlay: the guest byte ranges this image itself holds (data, compressed or zero clusters),
    /// as opposed to those that fall through to the backing device, each with whether it reads as zeros.
    /// </summary>
    internal async IAsyncEnumerable<(long Offset, long Length, bool Zero)> OwnRangesAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long clusters = (_header.Size + _clusterSize - 1) >> _clusterBits;
        for (long cluster = 0; cluster < clusters; cluster++)
        {
            if (cluster % _l2Entries == 0 && (Volatile.Read(ref _l1[cluster / _l2Entries]) & OffsetMask) == 0)
            {
                cluster += _l2Entries - 1; // a whole unallocated L2 table
                continue;
            }
            ulong entry = await LookupAsync(cluster, cancellationToken).ConfigureAwait(false);
            Kind kind = Classify(entry);
            if (kind == Kind.Unallocated) continue;
            long offset = cluster << _clusterBits;
            yield return (offset, Math.Min(_clusterSize, _header.Size - offset), kind is Kind.Zero or Kind.ZeroAllocated);
        }
    }

    private void ThrowIfReadOnly(string operation, long lba, long blockCount)
    {
        if (_refcounts is null)
            throw new BlockDeviceException(BlockError.ReadOnly, $"{operation} of {blockCount} block(s) at LBA {lba} refused: {_file.Path} is open read-only.");
    }

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
            throw new BlockDeviceException(BlockError.NotReady, $"{_file.Path}: the qcow2 device is closed");
    }

    /// <summary>Waits for the request holding the table lock, then closes the file and (if it opened it) the backing device.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            _file.Dispose();
        }
        finally
        {
            _lock.Release();
        }
        if (_ownsBacking && _backing is not null)
            await _backing.DisposeAsync().ConfigureAwait(false);
    }
}
