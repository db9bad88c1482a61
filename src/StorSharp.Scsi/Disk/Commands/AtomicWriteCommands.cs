using System.Buffers;
using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>
/// COMPARE AND WRITE (SBC-4 §5.3), ORWRITE(16) (SBC-4 §5.10) and WRITE ATOMIC(16) (SBC-4 §5.48):
/// commands run under an exclusive range lock, so they are atomic against every other writer of
/// those blocks.
/// </summary>
internal static class AtomicWriteCommands
{
    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.CompareAndWrite, "COMPARE AND WRITE", DataDirection.Out,
            [ScsiOpcodes.CompareAndWrite, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0x3F, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, CompareAndWrite),
        Row(ScsiOpcodes.OrWrite16, "ORWRITE(16)", DataDirection.Out,
            [ScsiOpcodes.OrWrite16, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, OrWrite),
        // Byte 1: DPO, FUA (WRPROTECT stays outside: no protection information); bytes 10-11 ATOMIC
        // BOUNDARY, 12-13 TRANSFER LENGTH, 14 GROUP NUMBER.
        Row(ScsiOpcodes.WriteAtomic16, "WRITE ATOMIC(16)", DataDirection.Out,
            [ScsiOpcodes.WriteAtomic16, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, WriteAtomic),
    ];

    /// <summary>
    /// The most blocks one WRITE ATOMIC(16) may write (VPD B0h MAXIMUM ATOMIC TRANSFER LENGTH, and the
    /// same with an atomic boundary and as MAXIMUM ATOMIC BOUNDARY SIZE): the maximum transfer length,
    /// capped by the 16-bit TRANSFER LENGTH field. Any length up to it is atomic because the whole
    /// write runs under one range lock as one block device write.
    /// </summary>
    public static uint MaxAtomicBlocks(DiskUnit unit) =>
        (uint)Math.Min(ushort.MaxValue, unit.Miniport.Options.MaximumTransferLength / unit.Device!.Geometry.LogicalBlockSize);

    /// <summary>
    /// WRITE ATOMIC(16) (SBC-4 §5.48, §4.29): every block is written or none is, as seen by every other
    /// command. The write takes the exclusive range lock (as COMPARE AND WRITE does), waits for plain
    /// WRITEs in flight on the range, and goes to the device as one write of the whole range, which a
    /// reset or an abort cannot split: once issued it finishes; before, nothing is written.
    /// </summary>
    private static void WriteAtomic(ScsiTask task)
    {
        var cdb = task.Cdb;
        ulong lba = BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]);
        uint boundary = BinaryPrimitives.ReadUInt16BigEndian(cdb[10..]);
        uint blocks = BinaryPrimitives.ReadUInt16BigEndian(cdb[12..]);
        var g = task.Device.Geometry;
        uint max = MaxAtomicBlocks(task.Unit);
        // SBC-4 §5.48: a TRANSFER LENGTH above MAXIMUM ATOMIC TRANSFER LENGTH (no boundary), or above
        // MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY, and an ATOMIC BOUNDARY above MAXIMUM
        // ATOMIC BOUNDARY SIZE are INVALID FIELD IN CDB. ATOMIC ALIGNMENT and ATOMIC TRANSFER LENGTH
        // GRANULARITY are 0 (no requirement), so no LBA or length is misaligned.
        if (boundary > max) { task.CompleteInvalidField(10); return; }
        if (blocks > max) { task.CompleteInvalidField(12); return; }
        if (!BlockCdb.IsInRange(lba, blocks, (ulong)g.BlockCount)) { task.CompleteCheckCondition(SenseCodes.LbaOutOfRange); return; }
        if (blocks == 0) { task.CompleteGood(); return; } // SBC-4 §5.48: zero blocks is not an error
        long bytes = (long)blocks * g.LogicalBlockSize;
        // Only whole blocks that arrived are written (the residual rule of every WRITE), still in one piece.
        int moved = (int)(Math.Min(bytes, task.BufferLength) / g.LogicalBlockSize * g.LogicalBlockSize);
        long start = (long)lba;
        bool fua = (cdb[1] & 0x08) != 0 || !task.Unit.Mode.WriteCacheEnabled;
        task.RunLocked(start, start + blocks, async t =>
        {
            if (moved > 0 && t.IsRunning)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(moved);
                try
                {
                    t.ReadDataOut(buffer.AsSpan(0, moved));
                    await t.Device.WriteAsync(start, buffer.AsMemory(0, moved), fua ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None).ConfigureAwait(false);
                }
                finally { ArrayPool<byte>.Shared.Return(buffer); }
            }
            t.CompleteTransfer(bytes);
        });
    }

    private static void CompareAndWrite(ScsiTask task)
    {
        var cdb = task.Cdb;
        ulong lba = BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]);
        int blocks = cdb[13];
        bool fua = (cdb[1] & 0x08) != 0 || !task.Unit.Mode.WriteCacheEnabled;
        var g = task.Device.Geometry;
        if (blocks == 0)
        {
            // SBC-4 §5.3: zero blocks is not an error, and then nothing is transferred. A Data-Out
            // buffer that comes anyway contradicts the CDB (libiscsi sends 256 blocks as 00h with
            // 2 x 256 blocks of data and expects INVALID FIELD IN CDB, NUMBER OF LOGICAL BLOCKS).
            if (task.BufferLength != 0) task.CompleteInvalidField(13);
            else task.CompleteGood();
            return;
        }
        if (blocks > VpdPages.MaxCompareAndWriteBlocks) { task.CompleteInvalidField(13); return; }
        if (!BlockCdb.IsInRange(lba, (ulong)blocks, (ulong)g.BlockCount)) { task.CompleteCheckCondition(SenseCodes.LbaOutOfRange); return; }
        int half = blocks * g.LogicalBlockSize;
        // SBC-4 §5.3: the Data-Out buffer holds the verify data then the write data, 2 x N blocks exactly.
        if (task.BufferLength != 2 * half) { task.CompleteInvalidField(13); return; }
        long start = (long)lba;
        task.RunLocked(start, start + blocks, async t =>
        {
            var buffer = ArrayPool<byte>.Shared.Rent(3 * half);
            try
            {
                t.ReadDataOut(buffer.AsSpan(0, 2 * half));
                var medium = buffer.AsMemory(2 * half, half);
                await t.Device.ReadAsync(start, medium).ConfigureAwait(false);
                long mismatch = VerifyCommands.FirstDifference(medium.Span, buffer.AsSpan(0, half));
                if (mismatch >= 0)
                {
                    // MISCOMPARE with the offset of the first differing byte in INFORMATION.
                    t.CompleteCheckCondition(SenseCodes.MiscompareDuringVerify, default, (ulong)mismatch);
                    return;
                }
                await t.Device.WriteAsync(start, buffer.AsMemory(half, half), fua ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None).ConfigureAwait(false);
                t.CompleteTransfer(2 * half);
            }
            finally { ArrayPool<byte>.Shared.Return(buffer); }
        });
    }

    private static void OrWrite(ScsiTask task)
    {
        BlockCdb.TryRead(task.Cdb, out var c);
        var g = task.Device.Geometry;
        if (!BlockCdb.IsInRange(c.Lba, c.TransferLength, (ulong)g.BlockCount)) { task.CompleteCheckCondition(SenseCodes.LbaOutOfRange); return; }
        if (c.TransferLength == 0) { task.CompleteGood(); return; }
        long bytes = (long)c.TransferLength * g.LogicalBlockSize;
        int moved = (int)(Math.Min(bytes, task.BufferLength) / g.LogicalBlockSize * g.LogicalBlockSize);
        long start = (long)c.Lba;
        bool fua = c.Fua || !task.Unit.Mode.WriteCacheEnabled;
        task.RunLocked(start, start + c.TransferLength, async t =>
        {
            if (moved == 0) { t.CompleteTransfer(bytes); return; }
            var buffer = ArrayPool<byte>.Shared.Rent(2 * moved);
            try
            {
                var medium = buffer.AsMemory(0, moved);
                await t.Device.ReadAsync(start, medium).ConfigureAwait(false);
                var data = buffer.AsSpan(moved, moved);
                t.ReadDataOut(data);
                var m = medium.Span;
                for (int i = 0; i < moved; i++) m[i] |= data[i];
                await t.Device.WriteAsync(start, medium, fua ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None).ConfigureAwait(false);
                t.CompleteTransfer(bytes);
            }
            finally { ArrayPool<byte>.Shared.Return(buffer); }
        });
    }
}
