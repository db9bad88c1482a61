using System.Buffers;
using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>
/// Logical block provisioning: UNMAP (SBC-4 §5.30), WRITE SAME(10)/(16) (SBC-4 §5.49, §5.50) and
/// GET LBA STATUS (SBC-4 §5.6). UNMAP exists only on thin LUs; WRITE SAME everywhere (without
/// UNMAP it is a plain repeated write).
/// </summary>
internal static class ProvisioningCommands
{
    private const int MaxGetLbaStatusDescriptors = 64;

    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.Unmap, "UNMAP", DataDirection.Out, [ScsiOpcodes.Unmap, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3F, 0xFF, 0xFF, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, Unmap, availableOn: Thin),
        Row(ScsiOpcodes.WriteSame10, "WRITE SAME(10)", DataDirection.Out, [ScsiOpcodes.WriteSame10, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, WriteSame),
        Row(ScsiOpcodes.WriteSame16, "WRITE SAME(16)", DataDirection.Out,
            [ScsiOpcodes.WriteSame16, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00],
            ReservationAccess.Write, ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, WriteSame),
        Row(ScsiOpcodes.ServiceActionIn16, "GET LBA STATUS", DataDirection.In,
            [ScsiOpcodes.ServiceActionIn16, ScsiOpcodes.GetLbaStatusServiceAction, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00],
            ReservationAccess.Read, ScsiCommandFlags.NeedsMedium, GetLbaStatus, ScsiOpcodes.GetLbaStatusServiceAction),
    ];

    // ------------------------------------------------------------------ UNMAP

    private static void Unmap(ScsiTask task)
    {
        int length = BinaryPrimitives.ReadUInt16BigEndian(task.Cdb[7..]);
        if (length == 0) { task.CompleteGood(); return; }
        // SBC-4 §5.30.1: a parameter list shorter than its 8-byte header is PARAMETER LIST LENGTH ERROR.
        if (length < 8 || length > task.BufferLength) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
        var list = new byte[length];
        task.ReadDataOut(list);
        int dataLength = BinaryPrimitives.ReadUInt16BigEndian(list);
        int descriptorLength = BinaryPrimitives.ReadUInt16BigEndian(list.AsSpan(2));
        if (dataLength != 0 && dataLength + 2 > length) { Fail(task, 0); return; }
        if (descriptorLength + 8 > length) { Fail(task, 2); return; }
        int count = descriptorLength / 16;
        if (count > VpdPages.MaxUnmapDescriptors) { Fail(task, 2); return; }
        ulong capacity = (ulong)task.Device.Geometry.BlockCount;
        ulong total = 0;
        for (int i = 0; i < count; i++)
        {
            var d = list.AsSpan(8 + i * 16);
            ulong lba = BinaryPrimitives.ReadUInt64BigEndian(d);
            uint blocks = BinaryPrimitives.ReadUInt32BigEndian(d[8..]);
            if (!BlockCdb.IsInRange(lba, blocks, capacity)) { task.CompleteCheckCondition(SenseCodes.LbaOutOfRange); return; }
            total += blocks;
            if (total > VpdPages.MaxUnmapBlocks) { Fail(task, 8 + i * 16 + 8); return; }
        }
        task.RunLocked(0, long.MaxValue, async t =>
        {
            for (int i = 0; i < count; i++)
            {
                if (!t.IsRunning) break;
                long lba = (long)BinaryPrimitives.ReadUInt64BigEndian(list.AsSpan(8 + i * 16));
                uint blocks = BinaryPrimitives.ReadUInt32BigEndian(list.AsSpan(8 + i * 16 + 8));
                if (blocks != 0) await t.Device.UnmapAsync(lba, blocks).ConfigureAwait(false);
            }
            t.CompleteTransfer(length);
        });
    }

    private static void Fail(ScsiTask task, int byteIndex, int bit = -1) =>
        task.CompleteCheckCondition(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(byteIndex, bit));

    // ------------------------------------------------------------------ WRITE SAME

    private static void WriteSame(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool sixteen = cdb[0] == ScsiOpcodes.WriteSame16;
        bool unmap = (cdb[1] & 0x08) != 0;
        bool ndob = sixteen && (cdb[1] & 0x01) != 0;
        ulong lba = sixteen ? BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]) : BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]);
        uint blocks = sixteen ? BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]) : BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        int blocksField = sixteen ? 10 : 7;
        // VPD B0h says WSNZ = 1: zero blocks ("to the end") is refused, and so is more than the maximum.
        if (blocks == 0 || blocks > VpdPages.MaxWriteSameBlocks) { task.CompleteInvalidField(blocksField); return; }
        var geometry = task.Device.Geometry;
        if (!BlockCdb.IsInRange(lba, blocks, (ulong)geometry.BlockCount)) { task.CompleteCheckCondition(SenseCodes.LbaOutOfRange); return; }
        // SBC-4 §5.49: a device server that cannot unmap through WRITE SAME (LBPWS = 0 in VPD B2h,
        // as on a fully provisioned LU) terminates a WRITE SAME with UNMAP = 1 with INVALID FIELD
        // IN CDB; libiscsi's WriteSame*.UnmapVPD checks that success implies LBPME = 1.
        if (unmap && !task.Unit.ThinProvisioned) { task.CompleteInvalidField(1, 3); return; }
        int blockSize = geometry.LogicalBlockSize;
        byte[]? pattern = null;
        if (!ndob)
        {
            if (task.BufferLength < blockSize) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
            pattern = new byte[blockSize];
            task.ReadDataOut(pattern);
            if (pattern.AsSpan().IndexOfAnyExcept((byte)0) < 0) pattern = null; // all zeros
        }
        long commandBytes = ndob ? 0 : blockSize;
        bool mayUnmap = unmap && task.Unit.ThinProvisioned;
        bool fua = !task.Unit.Mode.WriteCacheEnabled;
        task.RunLocked((long)lba, (long)lba + blocks, async t =>
        {
            if (pattern is null)
            {
                var flags = (mayUnmap ? WriteZeroesFlags.MayUnmap : WriteZeroesFlags.None) | (fua ? WriteZeroesFlags.ForceUnitAccess : WriteZeroesFlags.None);
                await t.Device.WriteZeroesAsync((long)lba, blocks, flags).ConfigureAwait(false);
            }
            else
            {
                // A non-zero block cannot be unmapped: write it repeatedly, through one pooled chunk.
                int perChunk = Math.Max(1, Math.Min((int)blocks, (1 << 20) / blockSize));
                var chunk = ArrayPool<byte>.Shared.Rent(perChunk * blockSize);
                try
                {
                    for (int i = 0; i < perChunk; i++) pattern.CopyTo(chunk, i * blockSize);
                    for (long done = 0; done < blocks && t.IsRunning;)
                    {
                        int n = (int)Math.Min(perChunk, blocks - done);
                        await t.Device.WriteAsync((long)lba + done, chunk.AsMemory(0, n * blockSize), fua ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None).ConfigureAwait(false);
                        done += n;
                    }
                }
                finally { ArrayPool<byte>.Shared.Return(chunk); }
            }
            t.CompleteTransfer(commandBytes);
        });
    }

    // ------------------------------------------------------------------ GET LBA STATUS

    private static void GetLbaStatus(ScsiTask task)
    {
        var cdb = task.Cdb;
        ulong lba = BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]);
        uint allocation = BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]);
        long capacity = task.Device.Geometry.BlockCount;
        // SBC-4 §5.6: a starting LBA beyond the last one is LBA OUT OF RANGE.
        if (lba >= (ulong)capacity) { task.CompleteCheckCondition(SenseCodes.LbaOutOfRange); return; }
        if (allocation < 8) { task.CompleteDataIn([], allocation); return; }
        int max = (int)Math.Clamp((allocation - 8) / 16, 1, MaxGetLbaStatusDescriptors);
        task.Run(async t =>
        {
            var extents = new BlockExtent[max];
            int count = await t.Device.GetExtentsAsync((long)lba, capacity - (long)lba, extents).ConfigureAwait(false);
            var data = new byte[8 + 16 * count];
            int n = 8;
            for (int i = 0; i < count; i++)
            {
                var e = extents[i];
                var d = data.AsSpan(n);
                BinaryPrimitives.WriteUInt64BigEndian(d, (ulong)e.Lba);
                BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)Math.Min(e.BlockCount, uint.MaxValue));
                d[12] = (byte)((e.Flags & BlockExtentFlags.Hole) != 0 ? 0x01 : 0x00); // deallocated / mapped
                n += 16;
            }
            BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(n - 4));
            t.CompleteDataIn(data.AsSpan(0, n), allocation);
        }, writing: false);
    }
}
