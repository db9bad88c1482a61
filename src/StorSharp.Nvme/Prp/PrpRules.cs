namespace StorSharp.Nvme;

/// <summary>Why a scatter/gather list has no PRP form (NVMe base specification §4.1.1, "Physical Region Page Entry and List").</summary>
public enum PrpProblem
{
    /// <summary>None: the list has a PRP form.</summary>
    None,
    /// <summary>The list is empty or an element has no bytes.</summary>
    EmptyElement,
    /// <summary>The first element does not start on a dword (4-byte) boundary: PRP1's offset must be dword aligned.</summary>
    FirstNotDwordAligned,
    /// <summary>An element after the first does not start on a page boundary: every PRP entry after PRP1 has offset 0.</summary>
    StartNotPageAligned,
    /// <summary>An element before the last does not end on a page boundary: only the last PRP entry's page may be partly used.</summary>
    EndNotPageAligned,
}

/// <summary>The verdict of <see cref="PrpRules.Check"/>: whether a scatter/gather list has a PRP form, and if not, why and where.</summary>
/// <param name="Problem">The first rule broken, or <see cref="PrpProblem.None"/>.</param>
/// <param name="Element">The index of the element that breaks it (-1 when none).</param>
public readonly record struct PrpVerdict(PrpProblem Problem, int Element)
{
    /// <summary>True when the list can be described by PRP1, PRP2 and PRP list pages.</summary>
    public bool HasPrpForm => Problem == PrpProblem.None;

    /// <summary>The verdict in words.</summary>
    public override string ToString() => Problem switch
    {
        PrpProblem.None => "has a PRP form",
        PrpProblem.EmptyElement => $"no PRP form: element {Element} is empty",
        PrpProblem.FirstNotDwordAligned => "no PRP form: the first element is not dword aligned",
        PrpProblem.StartNotPageAligned => $"no PRP form: element {Element} does not start on a page boundary",
        PrpProblem.EndNotPageAligned => $"no PRP form: element {Element} does not end on a page boundary",
        _ => Problem.ToString(),
    };
}

/// <summary>
/// The NVMe PRP rules applied to a scatter/gather list (storport-model.md §6): PRP1 is dword
/// aligned; every element after the first starts on a page boundary; every element but the last
/// ends on one. A list that breaks a rule (a sub-page element in the middle, say) has no PRP form.
/// </summary>
public static class PrpRules
{
    /// <summary>Checks <paramref name="elements"/> against the PRP rules for pages of <paramref name="pageSize"/> bytes.</summary>
    public static PrpVerdict Check(ReadOnlySpan<ScatterGatherElement> elements, int pageSize)
    {
        if (elements.IsEmpty) return new PrpVerdict(PrpProblem.EmptyElement, 0);
        ulong mask = (ulong)pageSize - 1;
        for (int i = 0; i < elements.Length; i++)
        {
            var e = elements[i];
            if (e.Length <= 0) return new PrpVerdict(PrpProblem.EmptyElement, i);
            if (i == 0 && (e.Address & 3) != 0) return new PrpVerdict(PrpProblem.FirstNotDwordAligned, 0);
            if (i > 0 && (e.Address & mask) != 0) return new PrpVerdict(PrpProblem.StartNotPageAligned, i);
            if (i < elements.Length - 1 && (e.End & mask) != 0) return new PrpVerdict(PrpProblem.EndNotPageAligned, i);
        }
        return new PrpVerdict(PrpProblem.None, -1);
    }

    /// <summary>
    /// True when the boundary between element <paramref name="index"/> and the next one is a place
    /// a PRP transfer may run through (the first ends on a page boundary and the second starts on
    /// one). Where it is not, an I/O must be split there or bounced.
    /// </summary>
    public static bool IsPageBoundary(ReadOnlySpan<ScatterGatherElement> elements, int index, int pageSize)
    {
        ulong mask = (ulong)pageSize - 1;
        return (elements[index].End & mask) == 0 && (elements[index + 1].Address & mask) == 0;
    }

    /// <summary>How many PRP entries a transfer of <paramref name="elements"/> takes, PRP1 included (the list must have a PRP form).</summary>
    public static int CountEntries(ReadOnlySpan<ScatterGatherElement> elements, int pageSize)
    {
        ulong mask = (ulong)pageSize - 1;
        long count = 0;
        for (int i = 0; i < elements.Length; i++)
        {
            var e = elements[i];
            ulong firstPage = e.Address & ~mask;
            ulong lastPage = (e.End - 1) & ~mask;
            count += (long)((lastPage - firstPage) / (ulong)pageSize) + 1;
        }
        return (int)Math.Min(count, int.MaxValue);
    }
}
