using System.Buffers.Binary;

namespace StorSharp.Nvme;

/// <summary>
/// The controller's side of PRPs: follows PRP1, PRP2 and the PRP list pages of a transfer of a
/// given length and resolves them to host memory (the controller's DMA), checking every rule on
/// the way. Adjacent pages of one mapping are merged, so a buffer mapped once resolves to one run.
/// </summary>
public static class PrpWalker
{
    /// <summary>
    /// Resolves the <paramref name="length"/> bytes described by <paramref name="prp1"/> and
    /// <paramref name="prp2"/> into <paramref name="runs"/> (cleared first), in transfer order.
    /// </summary>
    /// <returns>
    /// Success; PRP Offset Invalid when PRP1 is not dword aligned, a data entry after PRP1 or a
    /// chained list pointer has an offset, or PRP2 as a list pointer is not qword aligned; Data
    /// Transfer Error when an entry points at memory that is not mapped.
    /// </returns>
    public static NvmeStatus Walk(HostMemory memory, ulong prp1, ulong prp2, long length, List<Memory<byte>> runs)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(runs);
        runs.Clear();
        if (length <= 0) return NvmeStatus.Success;
        ulong page = (ulong)memory.PageSize;
        ulong mask = page - 1;
        if ((prp1 & 3) != 0) return NvmeStatus.PrpOffsetInvalid;
        var run = new Run(memory, runs);
        long first = (long)Math.Min((ulong)length, page - (prp1 & mask));
        if (!run.Add(prp1, (int)first)) return NvmeStatus.DataTransferError;
        long remaining = length - first;
        if (remaining == 0) return run.Flush() ? NvmeStatus.Success : NvmeStatus.DataTransferError;
        if ((ulong)remaining <= page)
        {
            // PRP2 is the second (and last) data page.
            if ((prp2 & mask) != 0) return NvmeStatus.PrpOffsetInvalid;
            if (!run.Add(prp2, (int)remaining)) return NvmeStatus.DataTransferError;
            return run.Flush() ? NvmeStatus.Success : NvmeStatus.DataTransferError;
        }
        // PRP2 is a PRP list pointer: entries run to the end of its page; the last entry of a
        // page chains to the next list page when more entries than that remain.
        if ((prp2 & 7) != 0) return NvmeStatus.PrpOffsetInvalid;
        ulong listAddress = prp2;
        while (remaining > 0)
        {
            int slots = (int)((page - (listAddress & mask)) / sizeof(ulong));
            if (!memory.TryResolve(listAddress, slots * sizeof(ulong), out var listMemory)) return NvmeStatus.DataTransferError;
            var entries = listMemory.Span;
            long needed = (remaining + (long)page - 1) / (long)page;
            int usable = needed > slots ? slots - 1 : (int)needed;
            for (int i = 0; i < usable; i++)
            {
                ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(entries[(i * sizeof(ulong))..]);
                if ((entry & mask) != 0) return NvmeStatus.PrpOffsetInvalid;
                int n = (int)Math.Min(remaining, (long)page);
                if (!run.Add(entry, n)) return NvmeStatus.DataTransferError;
                remaining -= n;
            }
            if (remaining == 0) break;
            listAddress = BinaryPrimitives.ReadUInt64LittleEndian(entries[((slots - 1) * sizeof(ulong))..]);
            if ((listAddress & mask) != 0) return NvmeStatus.PrpOffsetInvalid;
        }
        return run.Flush() ? NvmeStatus.Success : NvmeStatus.DataTransferError;
    }

    /// <summary>Collects pages into runs of adjacent addresses and resolves each run once.</summary>
    private struct Run(HostMemory memory, List<Memory<byte>> runs)
    {
        private ulong _start;
        private long _length;

        public bool Add(ulong address, int length)
        {
            if (_length > 0 && address == _start + (ulong)_length && (address >> HostMemory.WindowShift) == (_start >> HostMemory.WindowShift))
            {
                _length += length;
                return true;
            }
            if (!Flush()) return false;
            _start = address;
            _length = length;
            return true;
        }

        public bool Flush()
        {
            if (_length == 0) return true;
            if (_length > int.MaxValue || !memory.TryResolve(_start, (int)_length, out var m)) return false;
            runs.Add(m);
            _length = 0;
            return true;
        }
    }
}
