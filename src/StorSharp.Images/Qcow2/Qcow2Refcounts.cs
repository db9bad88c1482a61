using System.Buffers.Binary;

namespace StorSharp.Images.Qcow2;

/// <summary>
/// The refcount table and refcount blocks of a writable qcow2 image (qcow2 specification, "Host cluster
/// management"), and cluster allocation. New clusters are taken from the end of the file only: a cluster
/// freed in this session is never reused by it, so a read still in flight on a freed cluster cannot see
/// another write's data (qemu-img convert reclaims the space).
/// </summary>
/// <remarks>
/// <para>Ordering, which keeps the image consistent after a crash at any point (the worst case is a
/// leaked cluster: a refcount of 1 that nothing references, which <c>qemu-img check</c> reports as a leak,
/// not an error):</para>
/// <list type="bullet">
/// <item>a new refcount block is written in full and flushed before the refcount table entry that points to it;</item>
/// <item>a grown refcount table is written in full, with refcounts for its own clusters, and flushed before the
/// header points to it; the old table's clusters are freed only after the header change is flushed;</item>
/// <item>callers raise refcounts of new clusters and flush before any L2 or L1 entry references them, and lower
/// refcounts of dropped clusters only after the L2 entry that dropped them is flushed.</item>
/// </list>
/// Callers hold the device's metadata lock.
/// </remarks>
internal sealed class Qcow2Refcounts
{
    private const int CachedBlocks = 8;
    private readonly Qcow2File _file;
    private readonly int _clusterBits;
    private readonly int _clusterSize;
    private readonly int _refcountBits;
    private readonly long _blockEntries;
    private readonly ulong _maxRefcount;
    private readonly Dictionary<long, byte[]> _blocks = new();
    private readonly Queue<long> _blockOrder = new();
    private ulong[] _table;
    private long _tableOffset;
    private long _nextFree;

    private Qcow2Refcounts(Qcow2File file, Qcow2Header header, ulong[] table, long nextFree)
    {
        _file = file;
        _clusterBits = header.ClusterBits;
        _clusterSize = header.ClusterSize;
        _refcountBits = header.RefcountBits;
        _blockEntries = header.RefcountBlockEntries;
        _maxRefcount = _refcountBits == 64 ? ulong.MaxValue : (1UL << _refcountBits) - 1;
        _table = table;
        _tableOffset = header.RefcountTableOffset;
        _nextFree = nextFree;
    }

    /// <summary>Loads and checks the refcount table: every refcount block offset must be cluster aligned and inside the file.</summary>
    internal static async ValueTask<Qcow2Refcounts> LoadAsync(Qcow2File file, Qcow2Header header, long fileLength, CancellationToken cancellationToken)
    {
        int bytes = header.RefcountTableClusters * header.ClusterSize;
        byte[] raw = new byte[bytes];
        await file.ReadExactAsync(raw, header.RefcountTableOffset, "refcount table", cancellationToken).ConfigureAwait(false);
        var table = new ulong[bytes / 8];
        for (int i = 0; i < table.Length; i++)
        {
            ulong entry = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
            long offset = (long)(entry & ~0x1FFUL);
            if (offset == 0) continue;
            if ((entry & 0x1FF) != 0 || offset % header.ClusterSize != 0 || offset < 0 || offset > fileLength - header.ClusterSize)
                throw new DiskImageException($"{file.Path}: qcow2 refcount table entry {i} at offset 0x{header.RefcountTableOffset + i * 8L:X}: " +
                    $"refcount block offset 0x{entry:X} is not cluster aligned or lies outside the file ({fileLength} bytes)");
            if (Qcow2Header.Overlaps(offset, header.ClusterSize, header.RefcountTableOffset, bytes)
                || Qcow2Header.Overlaps(offset, header.ClusterSize, header.L1TableOffset, Math.Max(8L, header.L1Size * 8L))
                || offset == 0)
                throw new DiskImageException($"{file.Path}: qcow2 refcount block 0x{offset:X} (refcount table entry {i}) overlaps the refcount table or the L1 table");
            table[i] = entry;
        }
        long nextFree = (fileLength + header.ClusterSize - 1) & ~((long)header.ClusterSize - 1);
        return new Qcow2Refcounts(file, header, table, nextFree);
    }

    /// <summary>Finds <paramref name="count"/> contiguous free clusters at the end of the image and returns the first one's offset.
    /// Their refcounts stay 0 until <see cref="IncrementAsync"/>.</summary>
    internal async ValueTask<long> AllocateAsync(int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            long start = _nextFree;
            int free = 0;
            while (free < count && await GetAsync(start + ((long)free << _clusterBits), cancellationToken).ConfigureAwait(false) == 0)
                free++;
            if (free == count)
            {
                _nextFree = start + ((long)count << _clusterBits);
                return start;
            }
            _nextFree = start + ((long)(free + 1) << _clusterBits);
        }
    }

    /// <summary>The refcount of the cluster at <paramref name="offset"/>; 0 where no refcount block exists.</summary>
    internal async ValueTask<ulong> GetAsync(long offset, CancellationToken cancellationToken)
    {
        long index = offset >> _clusterBits;
        long tableIndex = index / _blockEntries;
        if (tableIndex >= _table.Length || _table[tableIndex] == 0) return 0;
        byte[] block = await LoadBlockAsync((long)(_table[tableIndex] & ~0x1FFUL), cancellationToken).ConfigureAwait(false);
        return Read(block, index % _blockEntries);
    }

    /// <summary>Adds one to the refcount of the cluster at <paramref name="offset"/>, creating refcount blocks and growing the table as needed.</summary>
    internal ValueTask IncrementAsync(long offset, CancellationToken cancellationToken) => AddAsync(offset, +1, cancellationToken);

    /// <summary>Subtracts one from the refcount of the cluster at <paramref name="offset"/>.</summary>
    internal ValueTask DecrementAsync(long offset, CancellationToken cancellationToken) => AddAsync(offset, -1, cancellationToken);

    private async ValueTask AddAsync(long offset, int delta, CancellationToken cancellationToken)
    {
        long index = offset >> _clusterBits;
        long tableIndex = index / _blockEntries;
        if (tableIndex >= _table.Length)
        {
            if (delta < 0) throw _file.Corrupt($"refcount of cluster 0x{offset:X} would drop below zero (no refcount block)");
            await GrowTableAsync(tableIndex, cancellationToken).ConfigureAwait(false);
        }
        if (_table[tableIndex] == 0)
        {
            if (delta < 0) throw _file.Corrupt($"refcount of cluster 0x{offset:X} would drop below zero (no refcount block)");
            await CreateBlockAsync(tableIndex, cancellationToken).ConfigureAwait(false);
        }
        long blockOffset = (long)(_table[tableIndex] & ~0x1FFUL);
        byte[] block = await LoadBlockAsync(blockOffset, cancellationToken).ConfigureAwait(false);
        long entry = index % _blockEntries;
        ulong value = Read(block, entry);
        if (delta < 0 && value == 0)
            throw _file.Corrupt($"refcount of cluster 0x{offset:X} (refcount block 0x{blockOffset:X}) would drop below zero");
        if (delta > 0 && value == _maxRefcount)
            throw _file.Corrupt($"refcount of cluster 0x{offset:X} (refcount block 0x{blockOffset:X}) would exceed {_maxRefcount}");
        int byteIndex = Write(block, entry, delta > 0 ? value + 1 : value - 1, out int byteCount);
        await _file.WriteAsync(block.AsMemory(byteIndex, byteCount), blockOffset + byteIndex, "refcount block", cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask CreateBlockAsync(long tableIndex, CancellationToken cancellationToken)
    {
        long offset = await AllocateAsync(1, cancellationToken).ConfigureAwait(false);
        byte[] block = new byte[_clusterSize];
        long self = offset >> _clusterBits;
        bool selfCovered = self / _blockEntries == tableIndex;
        if (selfCovered) Write(block, self % _blockEntries, 1, out _);
        await _file.WriteAsync(block, offset, "new refcount block", cancellationToken).ConfigureAwait(false);
        Cache(offset, block);
        if (!selfCovered) await IncrementAsync(offset, cancellationToken).ConfigureAwait(false);
        await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
        byte[] entry = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(entry, (ulong)offset);
        await _file.WriteAsync(entry, _tableOffset + tableIndex * 8, "refcount table entry", cancellationToken).ConfigureAwait(false);
        _table[tableIndex] = (ulong)offset;
    }

    private async ValueTask GrowTableAsync(long neededIndex, CancellationToken cancellationToken)
    {
        long entriesPerCluster = _clusterSize / 8;
        long entries = Math.Max(neededIndex + 1, _table.Length * 2L);
        int clusters = (int)((entries + entriesPerCluster - 1) / entriesPerCluster);
        if ((long)clusters * _clusterSize > Qcow2Header.MaxRefcountTableBytes)
            throw new StorSharp.Block.BlockDeviceException(StorSharp.Block.BlockError.NoSpace,
                $"{_file.Path}: the qcow2 refcount table would exceed {Qcow2Header.MaxRefcountTableBytes} bytes; the image cannot grow further");
        long oldOffset = _tableOffset;
        int oldClusters = (int)((_table.LongLength * 8 + _clusterSize - 1) / _clusterSize);
        long newOffset = await AllocateAsync(clusters, cancellationToken).ConfigureAwait(false);
        var table = new ulong[clusters * entriesPerCluster];
        Array.Copy(_table, table, _table.Length);
        byte[] raw = new byte[clusters * _clusterSize];
        for (int i = 0; i < _table.Length; i++) BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), _table[i]);
        await _file.WriteAsync(raw, newOffset, "new refcount table", cancellationToken).ConfigureAwait(false);
        // From here on new refcount blocks are entered in the new (not yet referenced) table.
        ulong[] oldTable = _table;
        _table = table;
        _tableOffset = newOffset;
        try
        {
            for (int c = 0; c < clusters; c++)
                await IncrementAsync(newOffset + ((long)c << _clusterBits), cancellationToken).ConfigureAwait(false);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            byte[] header = new byte[12];
            BinaryPrimitives.WriteUInt64BigEndian(header, (ulong)newOffset);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), (uint)clusters);
            await _file.WriteAsync(header, 48, "header refcount table fields", cancellationToken).ConfigureAwait(false);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _table = oldTable;
            _tableOffset = oldOffset;
            throw;
        }
        for (int c = 0; c < oldClusters; c++)
            await DecrementAsync(oldOffset + ((long)c << _clusterBits), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<byte[]> LoadBlockAsync(long offset, CancellationToken cancellationToken)
    {
        if (_blocks.TryGetValue(offset, out byte[]? block)) return block;
        block = new byte[_clusterSize];
        await _file.ReadExactAsync(block, offset, "refcount block", cancellationToken).ConfigureAwait(false);
        Cache(offset, block);
        return block;
    }

    private void Cache(long offset, byte[] block)
    {
        if (_blocks.Count >= CachedBlocks)
            _blocks.Remove(_blockOrder.Dequeue());
        _blocks[offset] = block;
        _blockOrder.Enqueue(offset);
    }

    /// <summary>Reads entry <paramref name="entry"/>: sub-byte widths are packed from the least significant bit, wider ones are big-endian.</summary>
    private ulong Read(byte[] block, long entry)
    {
        if (_refcountBits < 8)
        {
            long bit = entry * _refcountBits;
            return (ulong)((block[bit / 8] >> (int)(bit % 8)) & ((1 << _refcountBits) - 1));
        }
        int bytes = _refcountBits / 8;
        var span = block.AsSpan((int)(entry * bytes), bytes);
        return bytes switch
        {
            1 => span[0],
            2 => BinaryPrimitives.ReadUInt16BigEndian(span),
            4 => BinaryPrimitives.ReadUInt32BigEndian(span),
            _ => BinaryPrimitives.ReadUInt64BigEndian(span),
        };
    }

    /// <summary>Sets entry <paramref name="entry"/> and returns the index of the first changed byte.</summary>
    private int Write(byte[] block, long entry, ulong value, out int byteCount)
    {
        if (_refcountBits < 8)
        {
            long bit = entry * _refcountBits;
            int mask = ((1 << _refcountBits) - 1) << (int)(bit % 8);
            int i = (int)(bit / 8);
            block[i] = (byte)((block[i] & ~mask) | (((int)value << (int)(bit % 8)) & mask));
            byteCount = 1;
            return i;
        }
        int bytes = _refcountBits / 8;
        int at = (int)(entry * bytes);
        var span = block.AsSpan(at, bytes);
        switch (bytes)
        {
            case 1: span[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32BigEndian(span, (uint)value); break;
            default: BinaryPrimitives.WriteUInt64BigEndian(span, value); break;
        }
        byteCount = bytes;
        return at;
    }
}
