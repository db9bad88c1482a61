using System.Buffers;
using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>
/// VERIFY(10)/(12)/(16) (SBC-4 §5.33 - §5.35), WRITE AND VERIFY(10)/(12)/(16) (SBC-4 §5.45 -
/// §5.47) and PRE-FETCH(10)/(16) (SBC-4 §5.16, §5.17).
/// </summary>
internal static class VerifyCommands
{
    // VERIFY byte 1: DPO (bit 4) and BYTCHK (bits 2-1). WRITE AND VERIFY: DPO and BYTCHK (bit 1).
    private const byte VerifyFlags = 0x16;
    private const byte WriteVerifyFlags = 0x12;

    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.Verify10, "VERIFY(10)", DataDirection.Out, [ScsiOpcodes.Verify10, VerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, Verify),
        Row(ScsiOpcodes.Verify12, "VERIFY(12)", DataDirection.Out, [ScsiOpcodes.Verify12, VerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, Verify),
        Row(ScsiOpcodes.Verify16, "VERIFY(16)", DataDirection.Out, [ScsiOpcodes.Verify16, VerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, Verify),
        Row(ScsiOpcodes.WriteAndVerify10, "WRITE AND VERIFY(10)", DataDirection.Out, [ScsiOpcodes.WriteAndVerify10, WriteVerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, WriteAndVerify),
        Row(ScsiOpcodes.WriteAndVerify12, "WRITE AND VERIFY(12)", DataDirection.Out, [ScsiOpcodes.WriteAndVerify12, WriteVerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, WriteAndVerify),
        Row(ScsiOpcodes.WriteAndVerify16, "WRITE AND VERIFY(16)", DataDirection.Out, [ScsiOpcodes.WriteAndVerify16, WriteVerifyFlags, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, WriteAndVerify),
        Row(ScsiOpcodes.PreFetch10, "PRE-FETCH(10)", DataDirection.None, [ScsiOpcodes.PreFetch10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, PreFetch),
        Row(ScsiOpcodes.PreFetch16, "PRE-FETCH(16)", DataDirection.None, [ScsiOpcodes.PreFetch16, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, PreFetch),
    ];

    /// <summary>Reads the CDB, checks the range; false (and the task completed) when it is out of range.</summary>
    private static bool TryRange(ScsiTask task, out BlockCommand c, out int blockSize)
    {
        BlockCdb.TryRead(task.Cdb, out c);
        var g = task.Device.Geometry;
        blockSize = g.LogicalBlockSize;
        if (BlockCdb.IsInRange(c.Lba, c.TransferLength, (ulong)g.BlockCount)) return true;
        task.CompleteCheckCondition(SenseCodes.LbaOutOfRange);
        return false;
    }

    private static void Verify(ScsiTask task)
    {
        int bytchk = (task.Cdb[1] >> 1) & 0x03;
        if (bytchk == 2) { task.CompleteInvalidField(1, 2); return; }
        if (!TryRange(task, out var c, out int blockSize)) return;
        if (c.TransferLength == 0) { task.CompleteGood(); return; }
        long bytes = (long)c.TransferLength * blockSize;
        // BYTCHK 01b: compare with TL blocks of data-out; 11b: with one block, repeated; 00b: only read.
        long dataOut = bytchk switch { 1 => bytes, 3 => blockSize, _ => 0 };
        if (dataOut > task.BufferLength) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
        task.Run(async t =>
        {
            var medium = ArrayPool<byte>.Shared.Rent((int)bytes);
            var expected = dataOut > 0 ? ArrayPool<byte>.Shared.Rent((int)dataOut) : null;
            try
            {
                await t.Device.ReadAsync((long)c.Lba, medium.AsMemory(0, (int)bytes)).ConfigureAwait(false);
                if (expected is not null)
                {
                    t.ReadDataOut(expected.AsSpan(0, (int)dataOut));
                    long mismatch = bytchk == 1
                        ? FirstDifference(medium.AsSpan(0, (int)bytes), expected.AsSpan(0, (int)bytes))
                        : FirstDifferenceRepeated(medium.AsSpan(0, (int)bytes), expected.AsSpan(0, blockSize));
                    if (mismatch >= 0)
                    {
                        // SBC-4 §5.33: MISCOMPARE with the offset of the first differing byte in INFORMATION.
                        t.CompleteCheckCondition(SenseCodes.MiscompareDuringVerify, default, (ulong)mismatch);
                        return;
                    }
                }
                t.CompleteTransfer(dataOut);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(medium);
                if (expected is not null) ArrayPool<byte>.Shared.Return(expected);
            }
        }, writing: false);
    }

    private static void WriteAndVerify(ScsiTask task)
    {
        if (!TryRange(task, out var c, out int blockSize)) return;
        if (c.TransferLength == 0) { task.CompleteGood(); return; }
        long bytes = (long)c.TransferLength * blockSize;
        bool bytchk = (task.Cdb[1] & 0x02) != 0;
        long lba = (long)c.Lba;
        // Like WRITE, only the whole blocks that arrived are written (residual rule).
        int written = (int)(Math.Min(bytes, task.BufferLength) / blockSize * blockSize);
        task.RunLocked(lba, lba + c.TransferLength, async t =>
        {
            if (written == 0) { t.CompleteTransfer(bytes); return; }
            var data = ArrayPool<byte>.Shared.Rent(written);
            var check = bytchk ? ArrayPool<byte>.Shared.Rent(written) : null;
            try
            {
                t.ReadDataOut(data.AsSpan(0, written));
                // The verification reads the medium, so the data has to be on it: FUA.
                await t.Device.WriteAsync(lba, data.AsMemory(0, written), BlockWriteFlags.ForceUnitAccess).ConfigureAwait(false);
                if (check is not null)
                {
                    await t.Device.ReadAsync(lba, check.AsMemory(0, written)).ConfigureAwait(false);
                    long mismatch = FirstDifference(check.AsSpan(0, written), data.AsSpan(0, written));
                    if (mismatch >= 0) { t.CompleteCheckCondition(SenseCodes.MiscompareDuringVerify, default, (ulong)mismatch); return; }
                }
                t.CompleteTransfer(bytes);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(data);
                if (check is not null) ArrayPool<byte>.Shared.Return(check);
            }
        });
    }

    /// <summary>
    /// PRE-FETCH: the block device has no cache to fill, so after the range check there is nothing
    /// to do. SBC-4 allows GOOD here ("could not be cached"); CONDITION MET would claim otherwise.
    /// </summary>
    private static void PreFetch(ScsiTask task)
    {
        if (!TryRange(task, out _, out _)) return;
        task.CompleteGood();
    }

    public static long FirstDifference(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected)
    {
        int i = actual.CommonPrefixLength(expected);
        return i < Math.Min(actual.Length, expected.Length) ? i : -1;
    }

    private static long FirstDifferenceRepeated(ReadOnlySpan<byte> medium, ReadOnlySpan<byte> block)
    {
        for (int offset = 0; offset < medium.Length; offset += block.Length)
        {
            long d = FirstDifference(medium.Slice(offset, block.Length), block);
            if (d >= 0) return offset + d;
        }
        return -1;
    }
}
