using System.Buffers;
using System.Buffers.Binary;
using StorSharp.Port;

namespace StorSharp.Nvme;

/// <summary>
/// One SRB on its way through the controller: its buffers mapped in host memory, the scatter/gather
/// list that describes them, the NVMe commands it takes (one, several pieces of a split, or one over
/// a bounce buffer) and their PRPs. Pooled per miniport; a request allocates nothing once the pool
/// and its arrays have grown to the load.
/// </summary>
internal sealed class NvmeRequest(NvmeMiniport miniport) : INvmeCompletionHandler
{
    private enum Kind { Transfer, NoData, Repeat, Fused }

    /// <summary>The most bytes the pooled buffer of a WRITE SAME with a pattern holds (one Write per fill).</summary>
    internal const int PatternChunkBytes = 1 << 20;

    private readonly PrpList _prp = new();
    private readonly PrpList _secondPrp = new();
    private ScatterGatherElement[] _elements = new ScatterGatherElement[8];
    private ulong[] _mapped = new ulong[8];
    private int[] _cuts = new int[8]; // byte offset where each piece ends
    private int _elementCount, _mappedCount, _pieceCount, _piece;
    private Srb? _srb;
    private NvmeUnit? _unit;
    private Kind _kind;
    private byte _opcode;
    private ulong _lba;
    private bool _fua;
    private int _ioBytes, _copyBytes, _bufferLength;
    private long _repeatBlocks, _repeatDone; // Repeat: blocks in all, blocks issued
    private int _repeatChunk;                // Repeat: blocks per command
    private byte _thenOpcode;                // after a WRITE AND VERIFY's Writes: Verify or Compare of the same blocks, or 0
    private int _fusedCompletions;
    private NvmeStatus _fusedStatus;
    private long _commandBytes;
    private byte[]? _bounce;
    private PrpPage? _rangePage;
    private NvmeCommand _noDataCommand;

    // ------------------------------------------------------------------ READ / WRITE

    /// <summary>
    /// Reads, writes or compares (<paramref name="opcode"/>: NVMe Read, Write or Compare)
    /// <paramref name="blocks"/> blocks. What moves is bounded by the buffer as on the SCSI disk: a
    /// write or compare moves the whole blocks that arrived, a read may end inside a block (then it
    /// is bounced, as a controller moves whole blocks). <paramref name="then"/> (WRITE AND VERIFY):
    /// when the Writes succeeded, NVMe Verify or Compare of the same blocks follows.
    /// </summary>
    public void StartTransfer(Srb srb, NvmeUnit unit, byte opcode, ulong lba, uint blocks, bool fua, byte then = 0)
    {
        _srb = srb;
        _unit = unit;
        _kind = Kind.Transfer;
        _opcode = opcode;
        _thenOpcode = then;
        bool write = opcode != NvmeOpcodes.Read;
        _lba = lba;
        _fua = fua;
        int blockSize = unit.Namespace.BlockSize;
        _bufferLength = NvmeMiniport.BufferLength(srb);
        _commandBytes = blocks * (long)blockSize;
        long limit = Math.Min(_commandBytes, _bufferLength);
        if (write) _ioBytes = _copyBytes = (int)(limit / blockSize * blockSize);
        else
        {
            _copyBytes = (int)limit;
            _ioBytes = (int)Math.Min(_commandBytes, (limit + blockSize - 1) / blockSize * blockSize);
        }
        if (_ioBytes == 0) { Finish(NvmeStatus.Success); return; }

        var memory = miniport.Memory;
        if (_copyBytes != _ioBytes)
        {
            StartBounce();
        }
        else
        {
            MapSegments(srb, _ioBytes);
            var elements = _elements.AsSpan(0, _elementCount);
            if (PrpRules.Check(elements, memory.PageSize).HasPrpForm)
            {
                SinglePiece();
                Interlocked.Increment(ref miniport.Statistics._direct);
            }
            else if (miniport.Options.Fallback == PrpFallback.Split && PlanSplit(blockSize, memory.PageSize))
            {
                Interlocked.Increment(ref miniport.Statistics._split);
                Interlocked.Add(ref miniport.Statistics._splitCommands, _pieceCount);
            }
            else
            {
                UnmapAll();
                StartBounce();
            }
        }
        _piece = 0;
        IssuePiece();
    }

    /// <summary>Maps the SRB's segments that hold the first <paramref name="bytes"/> bytes, one element each.</summary>
    private void MapSegments(Srb srb, int bytes)
    {
        var data = srb.Data;
        var memory = miniport.Memory;
        _elementCount = 0;
        for (int i = 0, done = 0; i < data.Count && done < bytes; i++)
        {
            var segment = data[i];
            if (segment.Length > bytes - done) segment = segment[..(bytes - done)];
            ulong address = memory.Map(segment);
            Push(ref _mapped, ref _mappedCount, address);
            int n = _elementCount;
            Push(ref _elements, ref n, new ScatterGatherElement(address, segment.Length));
            _elementCount = n;
            done += segment.Length;
        }
    }

    /// <summary>All bytes in one page-aligned pooled buffer: copy in now for a write, out at the end for a read.</summary>
    private void StartBounce()
    {
        _bounce = ArrayPool<byte>.Shared.Rent(_ioBytes);
        var buffer = _bounce.AsMemory(0, _ioBytes); // offset 0 of a pooled array: page aligned in host memory
        if (_opcode != NvmeOpcodes.Read) _srb!.Data.CopyTo(0, buffer.Span);
        ulong address = miniport.Memory.Map(buffer);
        Push(ref _mapped, ref _mappedCount, address);
        _elementCount = 0;
        int n = 0;
        Push(ref _elements, ref n, new ScatterGatherElement(address, _ioBytes));
        _elementCount = n;
        SinglePiece();
        Interlocked.Increment(ref miniport.Statistics._bounced);
    }

    private void SinglePiece()
    {
        _pieceCount = 0;
        Push(ref _cuts, ref _pieceCount, _ioBytes);
    }

    /// <summary>
    /// Cuts the transfer at every element boundary the PRP rules forbid; each piece then has a PRP
    /// form. Possible only when every cut falls on a block boundary and every piece starts dword
    /// aligned; otherwise false (and the caller bounces).
    /// </summary>
    private bool PlanSplit(int blockSize, int pageSize)
    {
        var elements = _elements.AsSpan(0, _elementCount);
        if ((elements[0].Address & 3) != 0) return false;
        _pieceCount = 0;
        int offset = 0;
        for (int i = 0; i < elements.Length - 1; i++)
        {
            offset += elements[i].Length;
            if (PrpRules.IsPageBoundary(elements, i, pageSize)) continue;
            if (offset % blockSize != 0 || (elements[i + 1].Address & 3) != 0) return false;
            Push(ref _cuts, ref _pieceCount, offset);
        }
        Push(ref _cuts, ref _pieceCount, _ioBytes);
        return true;
    }

    /// <summary>Builds the PRPs of the current piece and submits its Read or Write.</summary>
    private void IssuePiece()
    {
        int start = _piece == 0 ? 0 : _cuts[_piece - 1];
        int end = _cuts[_piece];
        // The elements of the piece: the cuts fall on element boundaries.
        int first = 0, at = 0;
        while (at + _elements[first].Length <= start) { at += _elements[first].Length; first++; }
        int last = first, covered = at + _elements[first].Length;
        while (covered < end) { last++; covered += _elements[last].Length; }
        var piece = _elements.AsSpan(first, last - first + 1);
        var verdict = PrpBuilder.Build(piece, miniport.Pages, _prp);
        if (!verdict.HasPrpForm)
        {
            // Cannot happen by the plan; if it did, fail the request rather than corrupt data.
            Finish(NvmeStatus.InternalError);
            return;
        }
        int blockSize = _unit!.Namespace.BlockSize;
        var command = NvmeCommand.ReadWrite(_opcode, _unit.Namespace.NamespaceId, _lba + (ulong)(start / blockSize), (end - start) / blockSize, _fua);
        command.CommandId = (ushort)_piece;
        command.Prp1 = _prp.Prp1;
        command.Prp2 = _prp.Prp2;
        miniport.Controller.Submit(command, this);
    }

    // ------------------------------------------------------------------ WRITE SAME of a pattern, VERIFY

    /// <summary>
    /// WRITE SAME of a block that is not all zeros: a pooled page-aligned buffer of up to
    /// <see cref="PatternChunkBytes"/> is filled with copies of the block once, then NVMe Writes of
    /// that buffer cover the range one after the other.
    /// </summary>
    public void StartPatternWrite(Srb srb, NvmeUnit unit, ulong lba, long blocks, bool fua)
    {
        int blockSize = unit.Namespace.BlockSize;
        int chunk = (int)Math.Min(blocks, Math.Min(PatternChunkBytes, miniport.Controller.MaxTransferBytes) / blockSize);
        int bytes = chunk * blockSize;
        _bounce = ArrayPool<byte>.Shared.Rent(bytes);
        var buffer = _bounce.AsSpan(0, bytes);
        srb.Data.CopyTo(0, buffer[..blockSize]);
        for (int filled = blockSize; filled < bytes; filled *= 2) buffer[..Math.Min(filled, bytes - filled)].CopyTo(buffer[filled..]);
        ulong address = miniport.Memory.Map(_bounce.AsMemory(0, bytes));
        Push(ref _mapped, ref _mappedCount, address);
        _elementCount = 0;
        int count = 0;
        Push(ref _elements, ref count, new ScatterGatherElement(address, bytes));
        _elementCount = count;
        var verdict = PrpBuilder.Build(_elements.AsSpan(0, 1), miniport.Pages, _prp);
        if (!verdict.HasPrpForm)
        {
            // One buffer at offset 0 of a pooled array always has a PRP form.
            _srb = srb;
            _unit = unit;
            Finish(NvmeStatus.InternalError);
            return;
        }
        StartRepeat(srb, unit, NvmeOpcodes.Write, lba, blocks, chunk, fua, blockSize);
    }

    /// <summary>VERIFY without a byte check: NVMe Verify commands of up to 65 536 blocks each.</summary>
    public void StartVerify(Srb srb, NvmeUnit unit, ulong lba, long blocks) =>
        StartRepeat(srb, unit, NvmeOpcodes.Verify, lba, blocks, 65536, fua: false, 0);

    private void StartRepeat(Srb srb, NvmeUnit unit, byte opcode, ulong lba, long blocks, int chunk, bool fua, long commandBytes)
    {
        _srb = srb;
        _unit = unit;
        _kind = Kind.Repeat;
        _opcode = opcode;
        _lba = lba;
        _fua = fua;
        _commandBytes = commandBytes;
        _repeatBlocks = blocks;
        _repeatDone = 0;
        _repeatChunk = chunk;
        IssueRepeat();
    }

    /// <summary>The next command of a Repeat: the same data pointer (if any) at the next blocks.</summary>
    private void IssueRepeat()
    {
        int blocks = (int)Math.Min(_repeatChunk, _repeatBlocks - _repeatDone);
        var command = NvmeCommand.ReadWrite(_opcode, _unit!.Namespace.NamespaceId, _lba + (ulong)_repeatDone, blocks, _fua);
        command.Prp1 = _prp.Prp1;
        command.Prp2 = _prp.Prp2;
        _repeatDone += blocks;
        miniport.Controller.Submit(command, this);
    }

    // ------------------------------------------------------------------ COMPARE AND WRITE

    /// <summary>
    /// COMPARE AND WRITE: the Data-Out buffer (the verify data, then the write data) is copied into
    /// one pooled page-aligned buffer, and a fused Compare + Write pair points into its two halves.
    /// </summary>
    public void StartCompareAndWrite(Srb srb, NvmeUnit unit, ulong lba, int blocks)
    {
        _srb = srb;
        _unit = unit;
        _kind = Kind.Fused;
        int half = blocks * unit.Namespace.BlockSize;
        _commandBytes = 2L * half;
        _fusedCompletions = 0;
        _fusedStatus = NvmeStatus.Success;
        _bounce = ArrayPool<byte>.Shared.Rent(2 * half);
        srb.Data.CopyTo(0, _bounce.AsSpan(0, 2 * half));
        ulong address = miniport.Memory.Map(_bounce.AsMemory(0, 2 * half));
        Push(ref _mapped, ref _mappedCount, address);
        Span<ScatterGatherElement> one = [new ScatterGatherElement(address, half)];
        bool ok = PrpBuilder.Build(one, miniport.Pages, _prp).HasPrpForm;
        one[0] = new ScatterGatherElement(address + (ulong)half, half);
        ok &= PrpBuilder.Build(one, miniport.Pages, _secondPrp).HasPrpForm;
        if (!ok) { Finish(NvmeStatus.InternalError); return; }
        uint nsid = unit.Namespace.NamespaceId;
        var compare = NvmeCommand.ReadWrite(NvmeOpcodes.Compare, nsid, lba, blocks, fua: false);
        compare.Prp1 = _prp.Prp1;
        compare.Prp2 = _prp.Prp2;
        var write = NvmeCommand.ReadWrite(NvmeOpcodes.Write, nsid, lba, blocks, fua: false);
        write.CommandId = 1;
        write.Prp1 = _secondPrp.Prp1;
        write.Prp2 = _secondPrp.Prp2;
        miniport.Controller.SubmitFused(compare, write, this);
    }

    // ------------------------------------------------------------------ commands without host data

    /// <summary>SYNCHRONIZE CACHE, or the FLUSH / SHUTDOWN functions: NVMe Flush.</summary>
    public void StartFlush(Srb srb, NvmeUnit unit)
    {
        StartNoData(srb, unit, new NvmeCommand { Opcode = NvmeOpcodes.Flush, NamespaceId = unit.Namespace.NamespaceId }, 0);
    }

    /// <summary>WRITE SAME of zeros: NVMe Write Zeroes.</summary>
    public void StartWriteZeroes(Srb srb, NvmeUnit unit, ulong lba, int blocks, bool deallocate, long dataBytes) =>
        StartNoData(srb, unit, NvmeCommand.WriteZeroes(unit.Namespace.NamespaceId, lba, blocks, deallocate, fua: false), dataBytes);

    /// <summary>UNMAP: one Dataset Management deallocate whose range list (from the SCSI block descriptors) sits in a pooled page.</summary>
    public void StartDeallocate(Srb srb, NvmeUnit unit, ReadOnlySpan<byte> descriptors, int ranges, long parameterBytes)
    {
        var page = _rangePage = miniport.Pages.Rent();
        int r = 0;
        for (int i = 0; i < descriptors.Length / 16; i++)
        {
            var d = descriptors.Slice(i * 16, 16);
            uint blocks = BinaryPrimitives.ReadUInt32BigEndian(d[8..]);
            if (blocks == 0) continue;
            var range = page.Data.AsSpan(r++ * NvmeController.DatasetRangeLength, NvmeController.DatasetRangeLength);
            BinaryPrimitives.WriteUInt32LittleEndian(range, 0);                     // context attributes
            BinaryPrimitives.WriteUInt32LittleEndian(range[4..], blocks);           // length in logical blocks
            BinaryPrimitives.WriteUInt64LittleEndian(range[8..], BinaryPrimitives.ReadUInt64BigEndian(d)); // starting LBA
        }
        var command = NvmeCommand.DatasetDeallocate(unit.Namespace.NamespaceId, ranges);
        command.Prp1 = page.Address; // 256 ranges of 16 bytes fit one page of 4 KiB or more: no PRP2
        StartNoData(srb, unit, command, parameterBytes);
    }

    private void StartNoData(Srb srb, NvmeUnit unit, in NvmeCommand command, long commandBytes)
    {
        _srb = srb;
        _unit = unit;
        _kind = Kind.NoData;
        _commandBytes = commandBytes;
        _noDataCommand = command;
        miniport.Controller.Submit(_noDataCommand, this);
    }

    // ------------------------------------------------------------------ completion

    /// <inheritdoc/>
    public void OnNvmeCompleted(in NvmeCompletion completion)
    {
        if (_kind == Kind.Fused)
        {
            // Two completions: the Compare's (its failure is the answer: MISCOMPARE), then the Write's.
            if (!completion.Status.IsSuccess && _fusedStatus.IsSuccess) _fusedStatus = completion.Status;
            if (++_fusedCompletions == 2) Finish(_fusedStatus);
            return;
        }
        if (_kind == Kind.Repeat)
        {
            if (completion.Status.IsSuccess && _repeatDone < _repeatBlocks) IssueRepeat();
            else Finish(completion.Status);
            return;
        }
        _prp.Release();
        if (!completion.Status.IsSuccess || _kind == Kind.NoData)
        {
            Finish(completion.Status);
            return;
        }
        if (++_piece < _pieceCount)
        {
            IssuePiece();
            return;
        }
        if (_thenOpcode == NvmeOpcodes.Compare)
        {
            // WRITE AND VERIFY with BYTCHK: compare the blocks just written with the same buffers.
            _opcode = NvmeOpcodes.Compare;
            _thenOpcode = 0;
            _fua = false;
            _piece = 0;
            IssuePiece();
            return;
        }
        if (_thenOpcode == NvmeOpcodes.Verify)
        {
            _thenOpcode = 0;
            StartRepeat(_srb!, _unit!, NvmeOpcodes.Verify, _lba, _ioBytes / _unit!.Namespace.BlockSize, 65536, fua: false, _commandBytes);
            return;
        }
        if (_bounce is not null && _opcode == NvmeOpcodes.Read) _srb!.Data.CopyFrom(0, _bounce.AsSpan(0, _copyBytes));
        Finish(NvmeStatus.Success);
    }

    private void Finish(NvmeStatus status)
    {
        var srb = _srb!;
        _prp.Release();
        _secondPrp.Release();
        UnmapAll();
        if (_bounce is not null)
        {
            ArrayPool<byte>.Shared.Return(_bounce);
            _bounce = null;
        }
        if (_rangePage is not null)
        {
            miniport.Pages.Return(_rangePage);
            _rangePage = null;
        }
        long commandBytes = _commandBytes;
        _srb = null;
        _unit = null;
        _elementCount = _pieceCount = _piece = 0;
        miniport.ReturnRequest(this);
        if (status.IsSuccess) miniport.CompleteGood(srb, commandBytes);
        else miniport.CompleteNvmeError(srb, status);
    }

    private void UnmapAll()
    {
        for (int i = 0; i < _mappedCount; i++) miniport.Memory.Unmap(_mapped[i]);
        _mappedCount = 0;
    }

    private static void Push<T>(ref T[] array, ref int count, T value)
    {
        if (count == array.Length) Array.Resize(ref array, array.Length * 2);
        array[count++] = value;
    }
}
