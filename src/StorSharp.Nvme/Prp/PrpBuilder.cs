using System.Buffers.Binary;

namespace StorSharp.Nvme;

/// <summary>
/// Translates a scatter/gather list into its PRP form (NVMe base specification §4.1.1): PRP1 is the
/// first element's address; when the rest fits one page PRP2 is that page, otherwise PRP2 points to
/// a PRP list page of <c>PageSize / 8</c> entries whose last entry points to the next list page
/// when more entries follow. A list with no PRP form is refused with the reason
/// (<see cref="PrpRules.Check"/>), never asserted on: the caller splits or bounces the I/O.
/// </summary>
public static class PrpBuilder
{
    /// <summary>Builds the PRP form of <paramref name="elements"/> into <paramref name="list"/>, renting list pages from <paramref name="pool"/>.</summary>
    /// <returns>The verdict; when it has no PRP form, <paramref name="list"/> is left empty.</returns>
    public static PrpVerdict Build(ReadOnlySpan<ScatterGatherElement> elements, PrpPagePool pool, PrpList list)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(list);
        list.Release();
        int pageSize = pool.Memory.PageSize;
        var verdict = PrpRules.Check(elements, pageSize);
        if (!verdict.HasPrpForm) return verdict;

        int entries = PrpRules.CountEntries(elements, pageSize);
        int rest = entries - 1; // entries after PRP1
        ulong prp2 = 0;
        if (rest == 1)
        {
            var cursor = new EntryCursor(elements, pageSize);
            cursor.Next(); // PRP1
            prp2 = cursor.Next();
        }
        else if (rest > 1)
        {
            int perPage = pageSize / sizeof(ulong);
            var page = pool.Rent();
            list.AddPage(page);
            prp2 = page.Address;
            int slot = 0;
            var cursor = new EntryCursor(elements, pageSize);
            cursor.Next(); // PRP1
            for (int remaining = rest; remaining > 0; remaining--)
            {
                if (slot == perPage - 1 && remaining > 1)
                {
                    // The last entry of a full page chains to the next list page.
                    var next = pool.Rent();
                    list.AddPage(next);
                    BinaryPrimitives.WriteUInt64LittleEndian(page.Data.AsSpan(slot * sizeof(ulong)), next.Address);
                    page = next;
                    slot = 0;
                }
                BinaryPrimitives.WriteUInt64LittleEndian(page.Data.AsSpan(slot * sizeof(ulong)), cursor.Next());
                slot++;
            }
        }
        list.Set(elements[0].Address, prp2, entries, pool);
        return verdict;
    }

    /// <summary>Walks the PRP entries of a list with a PRP form: element by element, page by page.</summary>
    private ref struct EntryCursor(ReadOnlySpan<ScatterGatherElement> elements, int pageSize)
    {
        private readonly ReadOnlySpan<ScatterGatherElement> _elements = elements;
        private readonly ulong _mask = (ulong)pageSize - 1;
        private int _element;
        private ulong _page; // next page address in the current element; 0 = start of the element

        public ulong Next()
        {
            while (true)
            {
                var e = _elements[_element];
                if (_page == 0)
                {
                    // The element's first entry keeps its offset (only PRP1 can have one).
                    _page = (e.Address & ~_mask) + _mask + 1;
                    return e.Address;
                }
                if (_page < e.End)
                {
                    ulong entry = _page;
                    _page += _mask + 1;
                    return entry;
                }
                _element++;
                _page = 0;
            }
        }
    }
}
