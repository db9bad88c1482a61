using System.Buffers;
using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>What RECEIVE COPY RESULTS reports about one EXTENDED COPY (SPC-4 §6.18).</summary>
internal sealed class CopyRecord
{
    /// <summary>COPY MANAGER STATUS: 0 in progress, 1 completed good, 2 completed with an error (SPC-4 §6.18.2).</summary>
    public volatile int Status;
    public int SegmentsProcessed;
    public long BytesCopied;
    /// <summary>The sense data the EXTENDED COPY ended with (FAILED SEGMENT DETAILS), when it failed.</summary>
    public byte[]? Sense;
}

/// <summary>
/// EXTENDED COPY (LID1, 83h/00h, SPC-4 §6.4) and RECEIVE COPY RESULTS (84h, SPC-4 §6.18): the copy
/// manager of an LU copies blocks between LUs of this miniport (the VMware XCOPY offload). CSCD
/// descriptors are identification descriptors (E4h) naming an LU by its VPD 83h NAA designator;
/// segments are block→block (02h). Every descriptor is checked before a block moves; the blocks
/// move through <see cref="IBlockDevice"/> reads and writes in chunks of at most
/// <see cref="ChunkBytes"/> from a pooled buffer, asynchronously.
/// </summary>
internal static class ExtendedCopyCommands
{
    /// <summary>MAXIMUM CSCD DESCRIPTOR COUNT (VMware sends 2).</summary>
    public const int MaxCscdDescriptors = 8;
    /// <summary>MAXIMUM SEGMENT DESCRIPTOR COUNT.</summary>
    public const int MaxSegmentDescriptors = 32;
    /// <summary>MAXIMUM DESCRIPTOR LIST LENGTH: room for every descriptor allowed (8 × 32 + 32 × 28 = 1152 bytes) and more.</summary>
    public const int MaxDescriptorListLength = 2048;
    /// <summary>MAXIMUM SEGMENT LENGTH in bytes: 65535 blocks of 4 KiB, the 16-bit NUMBER OF BLOCKS field.</summary>
    public const long MaxSegmentBytes = 0xFFFFL * 4096;
    /// <summary>MAXIMUM CONCURRENT COPIES / TOTAL CONCURRENT COPIES per LU.</summary>
    public const int MaxConcurrentCopies = 64;
    /// <summary>The copy buffer, rented from the shared pool per chunk.</summary>
    public const int ChunkBytes = 1 << 20;
    private const int HeaderLength = 16;
    private const int CscdLength = 32;
    private const int BlockToBlockLength = 28;

    public static ScsiCommand[] Rows =>
    [
        // SPC-4 §6.4.1: bytes 10-13 PARAMETER LIST LENGTH. Reservations (SPC-4 table 46): like a write.
        Row(ScsiOpcodes.ExtendedCopy, "EXTENDED COPY(LID1)", DataDirection.Out,
            [ScsiOpcodes.ExtendedCopy, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium, ExtendedCopy, serviceAction: 0x00),
        // SPC-4 §6.18: byte 2 LIST IDENTIFIER (reserved for OPERATING PARAMETERS), 10-13 ALLOCATION LENGTH.
        Row(ScsiOpcodes.ReceiveCopyResults, "RECEIVE COPY STATUS(LID1)", DataDirection.In,
            [ScsiOpcodes.ReceiveCopyResults, 0x00, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.None, CopyStatus, serviceAction: 0x00),
        Row(ScsiOpcodes.ReceiveCopyResults, "RECEIVE COPY DATA(LID1)", DataDirection.In,
            [ScsiOpcodes.ReceiveCopyResults, 0x01, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.None, ReceiveData, serviceAction: 0x01),
        Row(ScsiOpcodes.ReceiveCopyResults, "RECEIVE COPY OPERATING PARAMETERS", DataDirection.In,
            [ScsiOpcodes.ReceiveCopyResults, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.None, OperatingParameters, serviceAction: 0x03),
        Row(ScsiOpcodes.ReceiveCopyResults, "RECEIVE COPY FAILURE DETAILS(LID1)", DataDirection.In,
            [ScsiOpcodes.ReceiveCopyResults, 0x04, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.None, FailedSegmentDetails, serviceAction: 0x04),
    ];

    /// <summary>The implemented descriptor type codes (OPERATING PARAMETERS, SPC-4 §6.18.4).</summary>
    private static ReadOnlySpan<byte> Implemented => [0x02, 0xE4];

    private readonly record struct Segment(int Offset, int Source, int Destination, long SourceLba, long DestinationLba, long Bytes);

    // ------------------------------------------------------------------ EXTENDED COPY

    private static void ExtendedCopy(ScsiTask task)
    {
        uint listLength = BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[10..]);
        // SPC-4 §6.4.1: a PARAMETER LIST LENGTH of zero transfers nothing and is not an error.
        if (listLength == 0) { task.CompleteGood(); return; }
        if (listLength < HeaderLength || listLength > HeaderLength + MaxDescriptorListLength)
        {
            task.CompleteCheckCondition(SenseCodes.ParameterListLengthError);
            return;
        }
        int length = (int)Math.Min(listLength, (uint)task.BufferLength);
        var list = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            length = task.ReadDataOut(list.AsSpan(0, length));
            Parse(task, list.AsSpan(0, length));
        }
        finally { ArrayPool<byte>.Shared.Return(list); }
    }

    private static void Fail(ScsiTask task, SenseCode code, SenseKeySpecific pointer = default) => task.CompleteCheckCondition(code, pointer);

    private static void InvalidParameter(ScsiTask task, int offset, int bit = -1) =>
        task.CompleteCheckCondition(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(offset, bit));

    /// <summary>Checks the whole parameter list (SPC-4 §6.4.3), then starts the copy.</summary>
    private static void Parse(ScsiTask task, ReadOnlySpan<byte> p)
    {
        if (p.Length < HeaderLength) { Fail(task, SenseCodes.ParameterListLengthError); return; }
        byte listId = p[0];
        int usage = (p[1] >> 3) & 3;
        // Byte 1: bits 7-6 reserved, STR (bit 5, a hint), LIST ID USAGE (4-3; SPC-3's NRCS is its
        // high bit), PRIORITY (2-0, accepted: one queue). Bytes 4-7 reserved.
        if ((p[1] & 0xC0) != 0) { InvalidParameter(task, 1, 7 - System.Numerics.BitOperations.LeadingZeroCount((uint)(p[1] & 0xC0) << 24)); return; }
        // SPC-4 §6.4.3.2, table 105: 01b is reserved; 11b requires LIST IDENTIFIER 0.
        if (usage == 1) { InvalidParameter(task, 1, 4); return; }
        if (usage == 3 && listId != 0) { InvalidParameter(task, 0); return; }
        for (int i = 4; i < 8; i++) if (p[i] != 0) { InvalidParameter(task, i); return; }
        int cscdLength = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        uint segmentLength = BinaryPrimitives.ReadUInt32BigEndian(p[8..]);
        uint inlineLength = BinaryPrimitives.ReadUInt32BigEndian(p[12..]);
        // SPC-4 §6.4.3.1: descriptor lists longer than MAXIMUM DESCRIPTOR LIST LENGTH, or a
        // parameter list too short for the lengths it declares: PARAMETER LIST LENGTH ERROR.
        if ((long)cscdLength + segmentLength > MaxDescriptorListLength) { Fail(task, SenseCodes.ParameterListLengthError); return; }
        if (inlineLength != 0) { Fail(task, SenseCodes.InlineDataLengthExceeded, SenseKeySpecific.Parameter(12)); return; } // MAXIMUM INLINE DATA LENGTH 0
        if (HeaderLength + cscdLength + segmentLength > p.Length) { Fail(task, SenseCodes.ParameterListLengthError); return; }

        // CSCD descriptors (SPC-4 §6.4.5): 32 bytes each; only E4h (identification descriptor).
        int cscdEnd = HeaderLength + cscdLength;
        int cscdCount = 0;
        for (int off = HeaderLength; off < cscdEnd; off += CscdLength) cscdCount++;
        if (cscdCount > MaxCscdDescriptors) { Fail(task, SenseCodes.TooManyTargetDescriptors); return; }
        int segmentEnd = cscdEnd + (int)segmentLength;
        int segmentCount = 0;
        for (int off = cscdEnd; off + 4 <= segmentEnd; off += 4 + BinaryPrimitives.ReadUInt16BigEndian(p[(off + 2)..])) segmentCount++;
        if (segmentCount > MaxSegmentDescriptors) { Fail(task, SenseCodes.TooManySegmentDescriptors); return; }

        var targets = new DiskUnit?[cscdCount];
        for (int i = 0; i < cscdCount; i++)
        {
            int off = HeaderLength + i * CscdLength;
            if (p[off] != 0xE4) { Fail(task, SenseCodes.UnsupportedTargetDescriptorTypeCode, SenseKeySpecific.Parameter(off)); return; }
            if (off + CscdLength > cscdEnd) { Fail(task, SenseCodes.ParameterListLengthError); return; }
            var d = p.Slice(off, CscdLength);
            // Byte 1: LU ID TYPE (7-6) is ignored and NUL (5) is obsolete in SPC-4 (§6.4.5.1);
            // PERIPHERAL DEVICE TYPE (4-0) must be 00h, a block device.
            if ((d[1] & 0x1F) != 0) { InvalidParameter(task, off + 1, 4); return; }
            // The identification descriptor (SPC-4 §6.4.5.6, bytes 4-23): only a binary NAA
            // designator of the LU (association 0) of 8 or 16 bytes names an LU here.
            int codeSet = d[4] & 0x0F, association = (d[5] >> 4) & 3, type = d[5] & 0x0F, dlen = d[7];
            if (dlen > 20 || dlen == 0) { InvalidParameter(task, off + 7); return; }
            if (codeSet != 1) { InvalidParameter(task, off + 4, 3); return; }
            if (association != 0) { InvalidParameter(task, off + 5, 5); return; }
            if (type != 3) { InvalidParameter(task, off + 5, 3); return; }
            if (dlen is not (8 or 16)) { InvalidParameter(task, off + 7); return; }
            var unit = task.Unit.Miniport.FindByNaa(d.Slice(8, dlen));
            // Block device type specific parameters (SBC-4 §6.4 / SPC-4 §6.4.5.?): DISK BLOCK LENGTH in bytes 29-31.
            int blockLength = (d[29] << 16) | (d[30] << 8) | d[31];
            if (unit is not null && blockLength != unit.Device!.Geometry.LogicalBlockSize) { InvalidParameter(task, off + 29); return; }
            targets[i] = unit;
        }

        // From here the copy has begun: a failure is held for COPY STATUS and FAILED SEGMENT DETAILS.
        CopyRecord? record = null;
        if (usage is 0 or 2)
        {
            // SPC-4 §6.4.3.2: a list identifier in use by a copy still running on this nexus: OPERATION IN PROGRESS.
            var copies = task.Nexus!.Copies;
            lock (copies)
            {
                if (copies.TryGetValue(listId, out var running) && running.Status == 0) { InvalidParameterInProgress(task); return; }
                record = new CopyRecord();
                // 00b holds the results for RECEIVE COPY RESULTS; 10b need not, but reports COPY STATUS while it runs.
                copies[listId] = record;
            }
        }
        void Abort(SenseCode code, SenseKeySpecific pointer) => Finish(task, record, usage, listId, code, pointer);

        // Segment descriptors (SPC-4 §6.4.6): only 02h, block device to block device.
        var segments = new Segment[segmentCount];
        int s = 0;
        for (int off = cscdEnd; off < segmentEnd; s++)
        {
            if (off + 4 > segmentEnd) { Abort(SenseCodes.ParameterListLengthError, default); return; }
            if (p[off] != 0x02) { Abort(SenseCodes.UnsupportedSegmentDescriptorTypeCode, SenseKeySpecific.Parameter(off)); return; }
            int dlen = BinaryPrimitives.ReadUInt16BigEndian(p[(off + 2)..]);
            if (dlen != BlockToBlockLength - 4) { Abort(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(off + 2)); return; }
            if (off + BlockToBlockLength > segmentEnd) { Abort(SenseCodes.ParameterListLengthError, default); return; }
            var d = p.Slice(off, BlockToBlockLength);
            if ((d[1] & 0xFC) != 0) { Abort(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(off + 1, 7 - System.Numerics.BitOperations.LeadingZeroCount((uint)(d[1] & 0xFC) << 24))); return; }
            bool dc = (d[1] & 0x02) != 0;
            int src = BinaryPrimitives.ReadUInt16BigEndian(d[4..]), dst = BinaryPrimitives.ReadUInt16BigEndian(d[6..]);
            // SPC-4 §6.4.3.5: a CSCD descriptor index that names no CSCD, or a CSCD the copy manager
            // cannot reach (no LU of this miniport has that NAA): COPY ABORTED, UNREACHABLE COPY TARGET.
            var pointer = SenseKeySpecific.Segment(off);
            if (src >= cscdCount || dst >= cscdCount || targets[src] is not { } from || targets[dst] is not { } to
                || !from.MediumPresent || !to.MediumPresent)
            {
                Abort(SenseCodes.UnreachableCopyTarget, pointer);
                return;
            }
            long blocks = BinaryPrimitives.ReadUInt16BigEndian(d[10..]);
            ulong srcLba = BinaryPrimitives.ReadUInt64BigEndian(d[12..]), dstLba = BinaryPrimitives.ReadUInt64BigEndian(d[20..]);
            int fromBlock = from.Device!.Geometry.LogicalBlockSize, toBlock = to.Device!.Geometry.LogicalBlockSize;
            // DC (SBC-4 §6.4? / SPC-4 §6.4.6.5): NUMBER OF BLOCKS counts destination blocks when set, else source blocks.
            long bytes = blocks * (dc ? toBlock : fromBlock);
            if (bytes > MaxSegmentBytes) { Abort(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(off + 10)); return; }
            if (bytes % fromBlock != 0 || bytes % toBlock != 0) { Abort(SenseCodes.UnexpectedInexactSegment, SenseKeySpecific.Parameter(off + 10)); return; }
            // Blocks beyond the end of a copy source or destination: the copy target cannot be
            // reached there, COPY ABORTED with the segment pointer (SPC-4 §6.4.3.5).
            if (!BlockCdb.IsInRange(srcLba, (ulong)(bytes / fromBlock), (ulong)from.Device.Geometry.BlockCount)
                || !BlockCdb.IsInRange(dstLba, (ulong)(bytes / toBlock), (ulong)to.Device.Geometry.BlockCount))
            {
                Abort(SenseCodes.CopyTargetDeviceNotReachable, pointer);
                return;
            }
            segments[s] = new Segment(off, src, dst, (long)srcLba, (long)dstLba, bytes);
            off += BlockToBlockLength;
        }
        // A write-protected copy destination refuses the copy as any write command would (SBC-4 §4.?: DATA PROTECT).
        foreach (var g in segments)
            if (targets[g.Destination]!.WriteProtected) { Abort(SenseCodes.WriteProtected, default); return; }

        if (Interlocked.Increment(ref task.Unit.ActiveCopies) > MaxConcurrentCopies)
        {
            Interlocked.Decrement(ref task.Unit.ActiveCopies);
            Finish(task, record, usage, listId, SenseCodes.InsufficientResources, default);
            return;
        }
        task.Run(t => CopyAsync(t, targets!, segments, record, usage, listId), writing: true);
    }

    private static void InvalidParameterInProgress(ScsiTask task) => Fail(task, SenseCodes.OperationInProgress);

    private static async ValueTask CopyAsync(ScsiTask task, DiskUnit[] targets, Segment[] segments, CopyRecord? record, int usage, byte listId)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            foreach (var g in segments)
            {
                var from = targets[g.Source];
                var to = targets[g.Destination];
                int fromBlock = from.Device!.Geometry.LogicalBlockSize, toBlock = to.Device!.Geometry.LogicalBlockSize;
                int chunk = ChunkBytes / Math.Max(fromBlock, toBlock) * Math.Max(fromBlock, toBlock);
                long srcByte = g.SourceLba * fromBlock, dstByte = g.DestinationLba * toBlock;
                // Overlapping ranges of one device copy from the end when the destination lies above.
                bool backward = ReferenceEquals(from, to) && dstByte > srcByte && dstByte < srcByte + g.Bytes;
                bool fua = !to.Mode.WriteCacheEnabled;
                for (long done = 0; done < g.Bytes;)
                {
                    if (!task.IsRunning) return; // aborted or reset: the task is already answered
                    int n = (int)Math.Min(chunk, g.Bytes - done);
                    long at = backward ? g.Bytes - done - n : done;
                    var memory = buffer.AsMemory(0, n);
                    try
                    {
                        await from.Device.ReadAsync((srcByte + at) / fromBlock, memory).ConfigureAwait(false);
                        await to.Device.WriteAsync((dstByte + at) / toBlock, memory, fua ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None).ConfigureAwait(false);
                    }
                    catch (BlockDeviceException)
                    {
                        // The copy source or destination failed: COPY ABORTED with the segment pointer (SPC-4 §6.4.3.5).
                        Finish(task, record, usage, listId, SenseCodes.CopyAborted, SenseKeySpecific.Segment(g.Offset));
                        return;
                    }
                    done += n;
                    if (record is not null) Interlocked.Add(ref record.BytesCopied, n);
                }
                if (record is not null) Interlocked.Increment(ref record.SegmentsProcessed);
            }
            if (record is not null) record.Status = 1;
            task.CompleteGood();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Interlocked.Decrement(ref task.Unit.ActiveCopies);
            if (record is not null && record.Status == 0) record.Status = 2;
        }
    }

    /// <summary>Ends a copy with CHECK CONDITION and keeps the sense for FAILED SEGMENT DETAILS (LIST ID USAGE 00b).</summary>
    private static void Finish(ScsiTask task, CopyRecord? record, int usage, byte listId, SenseCode code, SenseKeySpecific pointer)
    {
        if (record is not null)
        {
            Span<byte> sense = stackalloc byte[SenseData.MaxLength];
            int n = SenseData.Write(sense, task.Unit.DescriptorSense, code, pointer, null);
            record.Sense = usage == 0 ? sense[..n].ToArray() : null;
            record.Status = 2;
        }
        task.CompleteCheckCondition(code, pointer);
    }

    // ------------------------------------------------------------------ RECEIVE COPY RESULTS

    private static long Allocation(ScsiTask task) => BinaryPrimitives.ReadUInt32BigEndian(task.Cdb[10..]);

    /// <summary>The held record of CDB byte 2's list identifier, or INVALID FIELD IN CDB (SPC-4 §6.18.1).</summary>
    private static CopyRecord? Find(ScsiTask task, bool remove)
    {
        var copies = task.Nexus!.Copies;
        byte listId = task.Cdb[2];
        lock (copies)
        {
            if (copies.TryGetValue(listId, out var r))
            {
                if (remove) copies.Remove(listId);
                return r;
            }
        }
        task.CompleteInvalidField(2);
        return null;
    }

    /// <summary>COPY STATUS (SPC-4 §6.18.2). A completed good copy's status is reported once; a failed one stays for FAILED SEGMENT DETAILS.</summary>
    private static void CopyStatus(ScsiTask task)
    {
        if (Find(task, remove: false) is not { } r) return;
        int status = r.Status;
        if (status == 1) lock (task.Nexus!.Copies) task.Nexus.Copies.Remove(task.Cdb[2]);
        Span<byte> data = stackalloc byte[12];
        data.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(data, 8);
        data[4] = (byte)status; // HDD = 0: no data held
        BinaryPrimitives.WriteUInt16BigEndian(data[5..], (ushort)Math.Min(Volatile.Read(ref r.SegmentsProcessed), ushort.MaxValue));
        long bytes = Interlocked.Read(ref r.BytesCopied);
        if (bytes <= uint.MaxValue) { data[7] = 0x00; BinaryPrimitives.WriteUInt32BigEndian(data[8..], (uint)bytes); } // bytes
        else { data[7] = 0x01; BinaryPrimitives.WriteUInt32BigEndian(data[8..], (uint)Math.Min(bytes >> 10, uint.MaxValue)); } // KiB
        task.CompleteDataIn(data, Allocation(task));
    }

    /// <summary>RECEIVE DATA (SPC-4 §6.18.3): block→block segments hold no data, so the list is empty.</summary>
    private static void ReceiveData(ScsiTask task)
    {
        if (Find(task, remove: false) is null) return;
        Span<byte> data = stackalloc byte[4];
        data.Clear();
        task.CompleteDataIn(data, Allocation(task));
    }

    /// <summary>FAILED SEGMENT DETAILS (SPC-4 §6.18.5): the sense a failed copy ended with, then the record is discarded.</summary>
    private static void FailedSegmentDetails(ScsiTask task)
    {
        if (Find(task, remove: false) is not { } r) return;
        var sense = r.Status == 2 ? r.Sense : null;
        if (r.Status != 0) lock (task.Nexus!.Copies) task.Nexus.Copies.Remove(task.Cdb[2]);
        if (sense is null)
        {
            // Running, or completed without error: no details (AVAILABLE DATA 0).
            Span<byte> empty = stackalloc byte[60];
            empty.Clear();
            task.CompleteDataIn(empty[..4], Allocation(task));
            return;
        }
        var data = new byte[60 + sense.Length];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(data.Length - 4));
        data[56] = (byte)ScsiStatus.CheckCondition; // EXTENDED COPY COMMAND STATUS
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(58), (ushort)sense.Length);
        sense.CopyTo(data, 60);
        task.CompleteDataIn(data, Allocation(task));
    }

    /// <summary>OPERATING PARAMETERS (SPC-4 §6.18.4): the limits <see cref="Parse"/> enforces.</summary>
    private static void OperatingParameters(ScsiTask task)
    {
        Span<byte> data = stackalloc byte[44 + 2];
        data.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(data.Length - 4));
        data[4] = 0x01; // SNLID: LIST ID USAGE 11b (no list identifier) is supported
        BinaryPrimitives.WriteUInt16BigEndian(data[8..], MaxCscdDescriptors);
        BinaryPrimitives.WriteUInt16BigEndian(data[10..], MaxSegmentDescriptors);
        BinaryPrimitives.WriteUInt32BigEndian(data[12..], MaxDescriptorListLength);
        BinaryPrimitives.WriteUInt32BigEndian(data[16..], (uint)MaxSegmentBytes);
        // 20-23 MAXIMUM INLINE DATA LENGTH 0, 24-27 HELD DATA LIMIT 0, 28-31 MAXIMUM STREAM DEVICE TRANSFER SIZE 0.
        BinaryPrimitives.WriteUInt16BigEndian(data[34..], MaxConcurrentCopies); // TOTAL CONCURRENT COPIES
        data[36] = MaxConcurrentCopies; // MAXIMUM CONCURRENT COPIES
        data[37] = (byte)System.Numerics.BitOperations.Log2((uint)task.Device.Geometry.LogicalBlockSize); // DATA SEGMENT GRANULARITY
        data[43] = (byte)Implemented.Length;
        Implemented.CopyTo(data[44..]);
        task.CompleteDataIn(data, Allocation(task));
    }
}
