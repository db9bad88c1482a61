using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using StorSharp.Block;

namespace StorSharp.Nvme.Tests;

/// <summary>
/// Property tests of the PRP translation: generated scatter/gather lists (random page offsets and
/// lengths, sub-page middle elements, lists long enough to chain PRP list pages) are checked
/// against the NVMe rules, written independently here.
/// </summary>
public sealed class PrpPropertyTests
{
    private const int Cases = 10_000;

    private static Config Quick => Config.QuickThrowOnFailure.WithMaxTest(Cases);

    // ------------------------------------------------------------------ the oracle (NVMe base spec §4.1.1, written again)

    /// <summary>The PRP rules: PRP1 dword aligned, every later element starts at offset 0, every earlier one ends on a page boundary.</summary>
    private static bool HasPrpForm(IReadOnlyList<ScatterGatherElement> e, int page)
    {
        if (e.Count == 0 || e[0].Address % 4 != 0) return false;
        for (int i = 0; i < e.Count; i++)
        {
            if (i > 0 && e[i].Address % (ulong)page != 0) return false;
            if (i < e.Count - 1 && (e[i].Address + (ulong)e[i].Length) % (ulong)page != 0) return false;
        }
        return true;
    }

    /// <summary>Byte runs in order, adjacent ones merged, so two descriptions of the same bytes compare equal.</summary>
    private static List<(ulong Address, long Length)> Merge(IEnumerable<(ulong Address, long Length)> runs)
    {
        var merged = new List<(ulong Address, long Length)>();
        foreach (var (a, l) in runs)
        {
            if (merged.Count > 0 && merged[^1].Address + (ulong)merged[^1].Length == a) merged[^1] = (merged[^1].Address, merged[^1].Length + l);
            else merged.Add((a, l));
        }
        return merged;
    }

    /// <summary>
    /// Walks PRP1 / PRP2 / the list pages of a transfer of <paramref name="total"/> bytes as a
    /// controller would, asserting every rule, and returns the bytes described.
    /// </summary>
    private static List<(ulong, long)> WalkAndCheck(PrpList list, long total, HostMemory memory, int page)
    {
        var runs = new List<(ulong, long)>();
        Assert.True(list.Prp1 % 4 == 0, "PRP1 is dword aligned");
        long first = Math.Min(total, page - (long)(list.Prp1 % (ulong)page));
        runs.Add((list.Prp1, first));
        long rest = total - first;
        int perPage = page / 8;
        if (rest == 0) { Assert.Equal(0UL, list.Prp2); Assert.Empty(list.Pages); return runs; }
        Assert.True(list.Prp2 % (ulong)page == 0, "PRP2 has offset 0");
        if (rest <= page) { runs.Add((list.Prp2, rest)); Assert.Empty(list.Pages); return runs; }
        ulong pointer = list.Prp2;
        int pagesWalked = 0;
        while (rest > 0)
        {
            Assert.True(pagesWalked < list.Pages.Count, "the chain stays inside the list's pages");
            Assert.Equal(list.Pages[pagesWalked].Address, pointer);
            Assert.True(memory.TryResolve(pointer, page, out var bytes), "a list page is mapped");
            pagesWalked++;
            long needed = (rest + page - 1) / page;
            int data = needed > perPage ? perPage - 1 : (int)needed;
            for (int i = 0; i < data; i++)
            {
                ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(bytes.Span[(i * 8)..]);
                Assert.True(entry % (ulong)page == 0, $"entry {i} of list page {pagesWalked - 1} has offset 0");
                long n = Math.Min(rest, page);
                runs.Add((entry, n));
                rest -= n;
            }
            if (rest > 0)
            {
                pointer = BinaryPrimitives.ReadUInt64LittleEndian(bytes.Span[((perPage - 1) * 8)..]);
                Assert.True(pointer % (ulong)page == 0, "a chain pointer has offset 0");
            }
        }
        Assert.Equal(list.Pages.Count, pagesWalked); // no list page rented and left unused
        return runs;
    }

    // ------------------------------------------------------------------ generators

    /// <summary>A page offset: mostly 0, else dword aligned, else anything.</summary>
    private static Gen<int> Offset(int page) => Gen.Frequency(
        (4, Gen.Constant(0)),
        (2, Gen.Choose(0, page / 4 - 1).Select(d => d * 4)),
        (2, Gen.Choose(0, page - 1)));

    /// <summary>
    /// A scatter/gather list: a "clean" list (PRP-able by construction) half the time, perturbed now
    /// and then, or elements of any shape. Lengths of up to 64 pages per element over up to 48
    /// elements run past 511 entries, so PRP list pages chain.
    /// </summary>
    private static Gen<(int Page, ScatterGatherElement[] Elements)> ScatterGatherLists =>
        from page in Gen.Elements(4096, 4096, 8192)
        from count in Gen.Frequency((3, Gen.Choose(1, 4)), (2, Gen.Choose(5, 48)))
        from clean in Gen.Elements(true, false)
        from offsets in Gen.ArrayOf(Offset(page), count)
        from pages in Gen.ArrayOf(Gen.Frequency((3, Gen.Choose(1, 4)), (1, Gen.Choose(5, 64))), count)
        from tails in Gen.ArrayOf(Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(1, page - 1))), count)
        from places in Gen.ArrayOf(Gen.Choose(1, 1 << 20), count)
        from perturb in Gen.Frequency((3, Gen.Constant(-1)), (1, Gen.Choose(0, count - 1)))
        select (page, Build(page, count, clean, offsets, pages, tails, places, perturb));

    private static ScatterGatherElement[] Build(int page, int count, bool clean, int[] offsets, int[] pages, int[] tails, int[] places, int perturb)
    {
        var e = new ScatterGatherElement[count];
        for (int i = 0; i < count; i++)
        {
            int offset = offsets[i];
            if (clean) offset = i == 0 ? offset & ~3 : 0;
            if (i == perturb) offset = offsets[i] | 1; // breaks PRP1's dword rule or a later element's page rule
            int length = pages[i] * page - offset;
            if (!clean || i == count - 1 || i == perturb) length -= tails[i] % Math.Max(1, length);
            // Elements far apart (distinct 1 GiB strides), at the generated page offset.
            ulong address = ((ulong)(i + 1) << 40) + (ulong)places[i] * (ulong)page + (ulong)offset;
            e[i] = new ScatterGatherElement(address, Math.Max(1, length));
        }
        return e;
    }

    // ------------------------------------------------------------------ properties

    [Fact]
    public void Every_prp_list_built_is_valid_and_the_verdict_follows_the_rules()
    {
        int chained = 0, refused = 0, built = 0, cases = 0;
        var memories = new Dictionary<int, (HostMemory Memory, PrpPagePool Pool)>();
        Prop.ForAll(ScatterGatherLists.ToArbitrary(), input =>
        {
            var (page, elements) = input;
            cases++;
            if (!memories.TryGetValue(page, out var m)) memories[page] = m = (new HostMemory(page), new PrpPagePool(new HostMemory(page)));
            var list = new PrpList();
            var verdict = PrpBuilder.Build(elements, m.Pool, list);
            bool expected = HasPrpForm(elements, page);
            Assert.Equal(expected, verdict.HasPrpForm);
            if (!expected)
            {
                refused++;
                Assert.Equal(0UL, list.Prp1);
                Assert.Empty(list.Pages);
                return;
            }
            built++;
            if (list.Pages.Count > 1) chained++;
            long total = elements.Sum(e => (long)e.Length);
            var walked = WalkAndCheck(list, total, m.Pool.Memory, page);
            Assert.Equal(Merge(elements.Select(e => (e.Address, (long)e.Length))), Merge(walked));
            list.Release();
        }).Check(Quick);
        Assert.Equal(Cases, cases);
        // The generator reaches every kind of case.
        Assert.True(refused > Cases / 20 && built > Cases / 20, $"built {built}, refused {refused}");
        Assert.True(chained > 50, $"only {chained} lists chained PRP list pages");
    }

    [Fact]
    public void The_verdict_names_the_first_rule_broken()
    {
        const int P = 4096;
        Assert.Equal(new PrpVerdict(PrpProblem.FirstNotDwordAligned, 0), PrpRules.Check([new(0x1002, 100)], P));
        Assert.Equal(new PrpVerdict(PrpProblem.EndNotPageAligned, 0), PrpRules.Check([new(0x1000, 512), new(0x9000, 512)], P));
        Assert.Equal(new PrpVerdict(PrpProblem.StartNotPageAligned, 1), PrpRules.Check([new(0x1000, 4096), new(0x9200, 512)], P));
        Assert.Equal(new PrpVerdict(PrpProblem.EmptyElement, 0), PrpRules.Check([], P));
        Assert.True(PrpRules.Check([new(0x1204, 0xDFC), new(0x9000, 8192), new(0x20000, 7)], P).HasPrpForm);
    }

    // ------------------------------------------------------------------ data through the port

    /// <summary>A request's layout: segments (page offset, length) whose lengths add up to whole blocks.</summary>
    private static Gen<Segment[]> Layout(int blockSize, int maxBlocks) =>
        from count in Gen.Frequency((2, Gen.Constant(1)), (3, Gen.Choose(2, 6)), (1, Gen.Choose(7, 24)))
        from offsets in Gen.ArrayOf(Offset(4096), count)
        from lengths in Gen.ArrayOf(Gen.Frequency(
            (3, Gen.Choose(1, 8).Select(b => b * 512)),        // whole 512-byte blocks: splittable at 512-byte blocks
            (2, Gen.Choose(1, 2).Select(p => p * 4096)),       // whole pages
            (2, Gen.Choose(1, 1024).Select(d => d * 4)),       // dword-sized pieces
            (1, Gen.Choose(1, 5000))), count)                  // anything
        select Normalize(offsets, lengths, blockSize, maxBlocks);

    private static Segment[] Normalize(int[] offsets, int[] lengths, int blockSize, int maxBlocks)
    {
        var segments = new List<Segment>();
        int total = 0, max = maxBlocks * blockSize;
        for (int i = 0; i < offsets.Length && total < max; i++)
        {
            int length = Math.Min(lengths[i], max - total);
            segments.Add(new Segment(offsets[i], length));
            total += length;
        }
        int pad = (blockSize - total % blockSize) % blockSize;
        if (pad > 0) segments[^1] = segments[^1] with { Length = segments[^1].Length + pad };
        return [.. segments];
    }

    /// <summary>What the miniport must do with this layout (the oracle): straight, split or bounced.</summary>
    private static string ExpectedPath(Segment[] layout, int blockSize, PrpFallback fallback)
    {
        const int P = 4096;
        // Each segment is its own array: its own window in host memory, at its page offset.
        var elements = layout.Select((s, i) => new ScatterGatherElement(((ulong)(i + 1) << 32) + (ulong)s.Offset, s.Length)).ToList();
        if (HasPrpForm(elements, P)) return "direct";
        if (fallback == PrpFallback.Bounce || elements[0].Address % 4 != 0) return "bounce";
        long offset = 0;
        for (int i = 0; i < elements.Count - 1; i++)
        {
            offset += elements[i].Length;
            bool boundary = elements[i].End % P == 0 && elements[i + 1].Address % P == 0;
            if (!boundary && (offset % blockSize != 0 || elements[i + 1].Address % 4 != 0)) return "bounce";
        }
        return "split";
    }

    private static Gen<(int BlockSize, int Lba, Segment[] Write, Segment[] Read, int Seed)> Transfers =>
        from blockSize in Gen.Elements(512, 512, 4096)
        let maxBlocks = blockSize == 512 ? 64 : 8
        from write in Layout(blockSize, maxBlocks)
        from read in Layout(blockSize, maxBlocks)
        from lba in Gen.Choose(0, 255)
        from seed in Gen.Choose(0, int.MaxValue)
        select (blockSize, lba, write, read, seed);

    [Fact]
    public Task Data_lands_where_it_should_when_lists_are_split() => DataProperty(PrpFallback.Split);

    [Fact]
    public Task Data_lands_where_it_should_when_lists_are_bounced() => DataProperty(PrpFallback.Bounce);

    private static async Task DataProperty(PrpFallback fallback)
    {
        const int DeviceBlocks4K = 300;
        var options = new NvmeMiniportOptions { Fallback = fallback };
        await using var small = await NvmeHarness.CreateAsync(new RamBlockDevice(DeviceBlocks4K * 8 * 512L, 512), options);
        await using var large = await NvmeHarness.CreateAsync(new RamBlockDevice(DeviceBlocks4K * 4096L, 4096), options);
        var models = new Dictionary<int, byte[]> { [512] = new byte[DeviceBlocks4K * 4096], [4096] = new byte[DeviceBlocks4K * 4096] };
        var seen = new Dictionary<string, int> { ["direct"] = 0, ["split"] = 0, ["bounce"] = 0 };
        int cases = 0;

        Prop.ForAll(Transfers.ToArbitrary(), t =>
        {
            var harness = t.BlockSize == 512 ? small : large;
            cases++;
            var model = models[t.BlockSize];
            var stats = harness.Miniport.Statistics;
            int writeBytes = t.Write.Sum(s => s.Length), readBytes = t.Read.Sum(s => s.Length);
            int lba = t.Lba % (DeviceBlocks4K * 4096 / t.BlockSize - Math.Max(writeBytes, readBytes) / t.BlockSize);
            var data = new byte[writeBytes];
            new Random(t.Seed).NextBytes(data);

            // WRITE: the right path, GOOD, and the backend holds the data at the LBA.
            var before = (stats.Direct, stats.Split, stats.Bounced);
            var w = harness.ExecAsync(Cdb.Write16((ulong)lba, (uint)(writeBytes / t.BlockSize)), t.Write, data).GetAwaiter().GetResult();
            w.AssertGood();
            Assert.Equal(ExpectedPath(t.Write, t.BlockSize, fallback), PathTaken(before, stats));
            seen[PathTaken(before, stats)]++;
            data.CopyTo(model, lba * t.BlockSize);
            var stored = new byte[writeBytes];
            harness.Device.ReadAsync(lba, stored).AsTask().GetAwaiter().GetResult();
            Assert.True(stored.AsSpan().SequenceEqual(data), "the backend holds what was written, at the LBA written");

            // READ with another layout: the bytes of the model, in order, across the segments.
            before = (stats.Direct, stats.Split, stats.Bounced);
            var r = harness.ExecAsync(Cdb.Read16((ulong)lba, (uint)(readBytes / t.BlockSize)), t.Read, null).GetAwaiter().GetResult();
            r.AssertGood();
            Assert.Equal(ExpectedPath(t.Read, t.BlockSize, fallback), PathTaken(before, stats));
            seen[PathTaken(before, stats)]++;
            Assert.True(r.Data.AsSpan().SequenceEqual(model.AsSpan(lba * t.BlockSize, readBytes)), "the read returns the model's bytes");
            Assert.Equal(0, harness.Miniport.Memory.MappedCount - ListPagesMapped(harness));
        }).Check(Quick);

        Assert.Equal(Cases, cases);
        Assert.True(seen["direct"] > Cases / 20, $"direct {seen["direct"]}");
        Assert.True(seen["bounce"] > Cases / 20, $"bounce {seen["bounce"]}");
        if (fallback == PrpFallback.Split) Assert.True(seen["split"] > Cases / 20, $"split {seen["split"]}");
        else Assert.Equal(0, seen["split"]);
    }

    private static string PathTaken((long Direct, long Split, long Bounced) before, NvmeTransferStatistics after) =>
        after.Direct > before.Direct ? "direct" : after.Split > before.Split ? "split" : after.Bounced > before.Bounced ? "bounce" : "none";

    /// <summary>Pooled PRP pages stay mapped for reuse; everything else a request mapped must be gone.</summary>
    private static int ListPagesMapped(NvmeHarness harness) => harness.Miniport.Pages.PageCount;
}
