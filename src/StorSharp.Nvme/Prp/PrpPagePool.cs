namespace StorSharp.Nvme;

/// <summary>One page of PRP entries (a PRP list page): page-aligned memory mapped in <see cref="HostMemory"/>.</summary>
public sealed class PrpPage
{
    internal PrpPage(ulong address, byte[] data)
    {
        Address = address;
        Data = data;
    }

    /// <summary>The page's physical address (offset 0 in its page).</summary>
    public ulong Address { get; }

    /// <summary>The page's bytes: little-endian 64-bit PRP entries.</summary>
    public byte[] Data { get; }
}

/// <summary>
/// Page-aligned pages mapped once in <see cref="HostMemory"/> and reused: PRP list pages, and
/// small parameter buffers such as Dataset Management range lists. Renting and returning take a
/// short lock and allocate nothing once the pool has grown to the pages in use.
/// </summary>
public sealed class PrpPagePool
{
    private readonly object _lock = new();
    private readonly Stack<PrpPage> _free = new();
    private int _count;

    /// <summary>Creates a pool of pages in <paramref name="memory"/>.</summary>
    public PrpPagePool(HostMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        Memory = memory;
    }

    /// <summary>The address space the pages are mapped in.</summary>
    public HostMemory Memory { get; }

    /// <summary>How many pages the pool has made (each stays mapped in <see cref="Memory"/> for reuse).</summary>
    public int PageCount => Volatile.Read(ref _count);

    /// <summary>A page (its previous content is left; writers fill what they use).</summary>
    public PrpPage Rent()
    {
        lock (_lock)
        {
            if (_free.TryPop(out var page)) return page;
        }
        var data = new byte[Memory.PageSize];
        Interlocked.Increment(ref _count);
        return new PrpPage(Memory.Map(data), data);
    }

    /// <summary>Gives a page back.</summary>
    public void Return(PrpPage page)
    {
        ArgumentNullException.ThrowIfNull(page);
        lock (_lock) _free.Push(page);
    }
}
