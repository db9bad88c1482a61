namespace StorSharp.Nvme;

/// <summary>
/// The PRP form of one transfer: PRP1, PRP2 and the PRP list pages PRP2 points to (chained through
/// their last entry when one page is not enough). Reused from request to request: build it with
/// <see cref="PrpBuilder.Build"/>, give the pages back with <see cref="Release"/>.
/// </summary>
public sealed class PrpList
{
    private readonly List<PrpPage> _pages = new(4);
    private PrpPagePool? _pool;

    /// <summary>PRP entry 1 (command dwords 6-7): the first data page, with a dword-aligned offset.</summary>
    public ulong Prp1 { get; private set; }

    /// <summary>PRP entry 2 (dwords 8-9): 0 when one page is enough, the second page when two are, else the first PRP list page.</summary>
    public ulong Prp2 { get; private set; }

    /// <summary>The PRP list pages in chain order (empty when PRP2 is a data page or unused).</summary>
    public IReadOnlyList<PrpPage> Pages => _pages;

    /// <summary>How many PRP entries describe data, PRP1 included (chain pointers not counted).</summary>
    public int EntryCount { get; private set; }

    internal void Set(ulong prp1, ulong prp2, int entries, PrpPagePool pool)
    {
        Prp1 = prp1;
        Prp2 = prp2;
        EntryCount = entries;
        _pool = pool;
    }

    internal void AddPage(PrpPage page) => _pages.Add(page);

    /// <summary>Returns the list pages to their pool and clears the entries.</summary>
    public void Release()
    {
        if (_pool is { } pool) foreach (var page in _pages) pool.Return(page);
        _pages.Clear();
        _pool = null;
        Prp1 = Prp2 = 0;
        EntryCount = 0;
    }
}
