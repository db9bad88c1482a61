namespace StorSharp.Block;

/// <summary>
/// A sparse byte store: fixed-size chunks allocated on first write, found through a two-level
/// table (a directory of leaves, each leaf a row of chunk slots). Nothing is allocated for a
/// region until it is written, so a 2 TiB table starts as a 16 KiB directory.
/// </summary>
/// <remarks>
/// <para>Lock-free. A chunk is published with a compare-and-swap, so two writers racing to
/// allocate the same chunk agree on one; a chunk is freed by swapping its slot to null. A
/// reader or writer that fetched a chunk just before it was freed works on the orphan: that is
/// a request overlapping an unmap, whose outcome the block model leaves undefined anyway, and
/// it can never corrupt the table or touch memory that belongs to another chunk.</para>
/// <para>Chunks come from the pinned object heap: they are never moved by the GC, so a RAM disk
/// of many gigabytes does not get copied from generation to generation.</para>
/// </remarks>
internal sealed class RamChunkTable
{
    /// <summary>64 KiB chunks: the granularity of allocation and of freeing on unmap.</summary>
    internal const int ChunkShift = 16;
    internal const int ChunkSize = 1 << ChunkShift;
    private const long ChunkMask = ChunkSize - 1;

    /// <summary>16 Ki chunks per leaf: a leaf (128 KiB of references) covers 1 GiB.</summary>
    internal const int LeafShift = 14;
    internal const int LeafSize = 1 << LeafShift;
    private const long LeafMask = LeafSize - 1;

    /// <summary>1 PiB: the largest store, whose directory is 1 Mi references (8 MiB).</summary>
    internal const long MaxBytes = 1L << 50;

    private byte[]?[]?[] _leaves;
    private long _allocatedChunks;

    internal RamChunkTable(long sizeBytes)
    {
        long chunks = (sizeBytes + ChunkMask) >> ChunkShift;
        _leaves = new byte[]?[]?[(chunks + LeafMask) >> LeafShift];
    }

    /// <summary>Makes room for <paramref name="sizeBytes"/> bytes: a larger directory holding the same leaves. The caller holds all I/O meanwhile.</summary>
    internal void Grow(long sizeBytes)
    {
        long chunks = (sizeBytes + ChunkMask) >> ChunkShift;
        long leaves = (chunks + LeafMask) >> LeafShift;
        if (leaves <= _leaves.Length) return;
        var bigger = new byte[]?[]?[leaves];
        Array.Copy(_leaves, bigger, _leaves.Length);
        Volatile.Write(ref _leaves, bigger);
    }

    /// <summary>How many chunks hold memory now.</summary>
    internal long AllocatedChunks => Volatile.Read(ref _allocatedChunks);

    /// <summary>Copies bytes out; bytes of chunks never written read as zeros.</summary>
    internal void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int within = (int)(offset & ChunkMask);
            int length = Math.Min(destination.Length, ChunkSize - within);
            byte[]? chunk = Find(offset >> ChunkShift);
            if (chunk is null)
                destination[..length].Clear();
            else
                chunk.AsSpan(within, length).CopyTo(destination);
            destination = destination[length..];
            offset += length;
        }
    }

    /// <summary>Copies bytes in, allocating the chunks that are written for the first time.</summary>
    /// <exception cref="OutOfMemoryException">A chunk could not be allocated.</exception>
    internal void Write(long offset, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            int within = (int)(offset & ChunkMask);
            int length = Math.Min(source.Length, ChunkSize - within);
            source[..length].CopyTo(GetOrAdd(offset >> ChunkShift).AsSpan(within, length));
            source = source[length..];
            offset += length;
        }
    }

    /// <summary>
    /// Zeroes a byte range. Chunks wholly inside it are freed when <paramref name="deallocate"/>
    /// is set, else cleared in place; chunks partly inside are cleared in place. Chunks never
    /// allocated stay unallocated: they already read as zeros.
    /// </summary>
    internal void Zero(long offset, long length, bool deallocate)
    {
        long end = offset + length;
        while (offset < end)
        {
            long index = offset >> ChunkShift;
            byte[]?[]? leaf = Volatile.Read(ref _leaves[index >> LeafShift]);
            if (leaf is null)
            {
                // A whole gigabyte never written: nothing to zero, skip it in one step.
                offset = Math.Min(end, ((index >> LeafShift) + 1) << (LeafShift + ChunkShift));
                continue;
            }
            int within = (int)(offset & ChunkMask);
            int count = (int)Math.Min(end - offset, ChunkSize - within);
            ref byte[]? slot = ref leaf[index & LeafMask];
            if (count == ChunkSize && deallocate)
            {
                if (Interlocked.Exchange(ref slot, null) is not null)
                    Interlocked.Decrement(ref _allocatedChunks);
            }
            else
            {
                Volatile.Read(ref slot)?.AsSpan(within, count).Clear();
            }
            offset += count;
        }
    }

    /// <summary>Drops every chunk and leaf; requests racing with this work on orphans, harmlessly.</summary>
    internal void Release()
    {
        for (int i = 0; i < _leaves.Length; i++)
        {
            byte[]?[]? leaf = Interlocked.Exchange(ref _leaves[i], null);
            if (leaf is null)
                continue;
            for (int j = 0; j < leaf.Length; j++)
            {
                if (Interlocked.Exchange(ref leaf[j], null) is not null)
                    Interlocked.Decrement(ref _allocatedChunks);
            }
        }
    }

    /// <summary>Whether the chunk holds memory.</summary>
    internal bool IsAllocated(long index) => Find(index) is not null;

    /// <summary>Whether any chunk of the leaf covering <paramref name="index"/> was ever allocated.</summary>
    internal bool LeafExists(long index) => Volatile.Read(ref _leaves[index >> LeafShift]) is not null;

    private byte[]? Find(long index)
    {
        byte[]?[]? leaf = Volatile.Read(ref _leaves[index >> LeafShift]);
        return leaf is null ? null : Volatile.Read(ref leaf[index & LeafMask]);
    }

    private byte[] GetOrAdd(long index)
    {
        ref byte[]?[]? leafSlot = ref _leaves[index >> LeafShift];
        byte[]?[]? leaf = Volatile.Read(ref leafSlot);
        if (leaf is null)
        {
            // Only Release frees leaves, so whichever leaf wins the race stays until then.
            byte[]?[] created = new byte[]?[LeafSize];
            leaf = Interlocked.CompareExchange(ref leafSlot, created, null) ?? created;
        }
        ref byte[]? slot = ref leaf[index & LeafMask];
        byte[]? chunk = Volatile.Read(ref slot);
        if (chunk is not null)
            return chunk;
        byte[] fresh = GC.AllocateArray<byte>(ChunkSize, pinned: true);
        chunk = Interlocked.CompareExchange(ref slot, fresh, null);
        if (chunk is not null)
            return chunk; // another writer won the race; its chunk is the one in the table
        Interlocked.Increment(ref _allocatedChunks);
        return fresh;
    }
}
