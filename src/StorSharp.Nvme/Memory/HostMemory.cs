using System.Runtime.InteropServices;

namespace StorSharp.Nvme;

/// <summary>
/// A simulated physical address space: the "host memory" an NVMe controller reads and writes by
/// 64-bit address (PRP entries point into it). A buffer is mapped once per request and unmapped
/// when the request ends; the controller resolves addresses back to buffers.
/// </summary>
/// <remarks>
/// <para>Each mapping gets its own 4 GiB window (window <c>n</c> starts at address <c>n &lt;&lt; 32</c>;
/// window 0 is never used, so address 0 is never valid), so buffers of different mappings are never
/// physically contiguous. Inside its window a buffer starts at the page offset it would have in
/// real memory: a buffer taken from an array at array offset <c>k</c> starts at page offset
/// <c>k mod PageSize</c>, as if every array began on a page boundary (pooled arrays, like the
/// page-aligned memory real drivers allocate). Memory that is not an array starts at offset 0.</para>
/// <para>Mapping and unmapping take a short lock and allocate nothing once the table has grown to
/// the number of live mappings; resolving an address takes no lock.</para>
/// </remarks>
public sealed class HostMemory
{
    /// <summary>The bits of an address that select the byte inside a mapping's window.</summary>
    public const int WindowShift = 32;

    private const ulong WindowMask = (1UL << WindowShift) - 1;

    private readonly object _lock = new();
    private Slot[] _slots;
    private int[] _free;
    private int _freeCount;
    private int _live;

    private struct Slot
    {
        public Memory<byte> Buffer;
        public int Offset; // page offset the buffer starts at inside its window
        public bool InUse;
    }

    /// <summary>Creates an empty address space.</summary>
    /// <param name="pageSize">The memory page size (NVMe CC.MPS): a power of two from 4096 to 134217728 (2^27).</param>
    /// <param name="initialMappings">How many mappings the table holds before it grows.</param>
    /// <exception cref="ArgumentOutOfRangeException">The page size is not a power of two in range.</exception>
    public HostMemory(int pageSize = 4096, int initialMappings = 1024)
    {
        if (pageSize < 4096 || pageSize > (1 << 27) || (pageSize & (pageSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "The memory page size (CC.MPS) is a power of two from 4096 to 2^27 bytes.");
        PageSize = pageSize;
        initialMappings = Math.Max(initialMappings, 16);
        _slots = new Slot[initialMappings];
        _free = new int[initialMappings];
        for (int i = 0; i < initialMappings; i++) _free[i] = initialMappings - 1 - i;
        _freeCount = initialMappings;
    }

    /// <summary>The memory page size in bytes (NVMe CC.MPS): PRP entries after the first point at pages of this size.</summary>
    public int PageSize { get; }

    /// <summary>How many buffers are mapped now.</summary>
    public int MappedCount => Volatile.Read(ref _live);

    /// <summary>The page offset <paramref name="buffer"/> has in this address space (its array offset modulo the page size).</summary>
    public int PageOffsetOf(ReadOnlyMemory<byte> buffer) =>
        MemoryMarshal.TryGetArray(buffer, out var segment) ? segment.Offset & (PageSize - 1) : 0;

    /// <summary>Maps <paramref name="buffer"/> and returns the physical address of its first byte.</summary>
    /// <exception cref="ArgumentException">The buffer is empty, or too large for a window.</exception>
    public ulong Map(Memory<byte> buffer)
    {
        if (buffer.IsEmpty) throw new ArgumentException("An empty buffer has no address.", nameof(buffer));
        int offset = PageOffsetOf(buffer);
        if ((ulong)offset + (ulong)buffer.Length > WindowMask)
            throw new ArgumentException($"A buffer of {buffer.Length} bytes does not fit a {1UL << WindowShift}-byte window.", nameof(buffer));
        lock (_lock)
        {
            if (_freeCount == 0) Grow();
            int index = _free[--_freeCount];
            ref var slot = ref _slots[index];
            slot.Buffer = buffer;
            slot.Offset = offset;
            slot.InUse = true;
            _live++;
            return ((ulong)(index + 1) << WindowShift) | (uint)offset;
        }
    }

    /// <summary>Ends the mapping that <see cref="Map"/> returned <paramref name="address"/> for; later resolutions of it fail.</summary>
    /// <returns>False when the address is not the start of a live mapping.</returns>
    public bool Unmap(ulong address)
    {
        lock (_lock)
        {
            long index = (long)(address >> WindowShift) - 1;
            if (index < 0 || index >= _slots.Length) return false;
            ref var slot = ref _slots[index];
            if (!slot.InUse || (address & WindowMask) != (ulong)slot.Offset) return false;
            slot = default;
            _free[_freeCount++] = (int)index;
            _live--;
            return true;
        }
    }

    /// <summary>
    /// Resolves <paramref name="length"/> bytes at <paramref name="address"/> to the mapped memory
    /// holding them (a controller's DMA). The range must lie inside one mapping.
    /// </summary>
    /// <returns>False when any byte of the range is not mapped.</returns>
    public bool TryResolve(ulong address, int length, out Memory<byte> memory)
    {
        memory = default;
        long index = (long)(address >> WindowShift) - 1;
        var slots = Volatile.Read(ref _slots);
        if (index < 0 || index >= slots.Length || length < 0) return false;
        var slot = slots[index];
        if (!slot.InUse) return false;
        long start = (long)(address & WindowMask) - slot.Offset;
        if (start < 0 || start + length > slot.Buffer.Length) return false;
        memory = slot.Buffer.Slice((int)start, length);
        return true;
    }

    private void Grow()
    {
        int old = _slots.Length;
        int size = old * 2;
        var slots = new Slot[size];
        Array.Copy(_slots, slots, old);
        var free = new int[size];
        for (int i = 0; i < size - old; i++) free[i] = size - 1 - i;
        _freeCount = size - old;
        _free = free;
        Volatile.Write(ref _slots, slots);
    }
}
