using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Nvme;

/// <summary>
/// The SCSI-to-NVMe translation (what stornvme does for the class driver above it): each CDB a
/// host sends becomes NVMe commands, or is answered from the identify data.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>READ / WRITE 6, 10, 12, 16</term><description>NVMe Read / Write (FUA kept), split or bounced when the S/G list has no PRP form</description></item>
/// <item><term>SYNCHRONIZE CACHE 10 / 16</term><description>NVMe Flush</description></item>
/// <item><term>UNMAP</term><description>Dataset Management, attribute deallocate, one range per descriptor</description></item>
/// <item><term>WRITE SAME 10 / 16 of a zero block (or NDOB)</term><description>Write Zeroes, DEAC when UNMAP is set</description></item>
/// <item><term>WRITE SAME 10 / 16 of another block</term><description>Writes of a pooled buffer filled with the block, up to 1 MiB each</description></item>
/// <item><term>VERIFY 10 / 12 / 16</term><description>Verify (BYTCHK 00b) or Compare (BYTCHK 01b)</description></item>
/// <item><term>WRITE AND VERIFY 10 / 12 / 16</term><description>Write with FUA, then Verify (BYTCHK 0) or Compare (BYTCHK 1)</description></item>
/// <item><term>COMPARE AND WRITE</term><description>a fused Compare + Write</description></item>
/// <item><term>GET LBA STATUS</term><description>answered from the namespace's allocation map (NVMe has no command for it)</description></item>
/// <item><term>INQUIRY, READ CAPACITY, MODE SENSE, REPORT LUNS, REPORT SUPPORTED OPERATION CODES, REQUEST SENSE, TEST UNIT READY, START STOP UNIT</term><description>answered by the miniport</description></item>
/// </list>
/// Anything else is ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (20h/00h).
/// </remarks>
internal static class ScsiTranslation
{
    private const int MaxResponse = 8 + 8 * 256; // REPORT LUNS of a full target is the largest

    public static void Execute(NvmeMiniport m, NvmeUnit? unit, Srb srb)
    {
        var cdb = srb.Cdb;
        byte op = cdb[0];
        if (unit is null)
        {
            // A LUN that is not there on a target that is (SPC-4 §6.6.2).
            switch (op)
            {
                case ScsiOpcodes.Inquiry: Inquiry(m, null, srb); return;
                case ScsiOpcodes.ReportLuns: ReportLuns(m, srb); return;
                default: m.CompleteCheckCondition(srb, SenseCodes.LogicalUnitNotSupported); return;
            }
        }
        // A pending unit attention ends any command but INQUIRY, REPORT LUNS and REQUEST SENSE (SAM-5 §5.14).
        if (op is not (ScsiOpcodes.Inquiry or ScsiOpcodes.ReportLuns or ScsiOpcodes.RequestSense) && unit.Attentions.TryTake(srb.Nexus, out var attention))
        {
            m.CompleteCheckCondition(srb, attention);
            return;
        }
        switch (op)
        {
            case ScsiOpcodes.Read6 or ScsiOpcodes.Read10 or ScsiOpcodes.Read12 or ScsiOpcodes.Read16:
                ReadWrite(m, unit, srb, write: false);
                return;
            case ScsiOpcodes.Write6 or ScsiOpcodes.Write10 or ScsiOpcodes.Write12 or ScsiOpcodes.Write16:
                ReadWrite(m, unit, srb, write: true);
                return;
            case ScsiOpcodes.Verify10 or ScsiOpcodes.Verify12 or ScsiOpcodes.Verify16:
                Verify(m, unit, srb, write: false);
                return;
            case ScsiOpcodes.WriteAndVerify10 or ScsiOpcodes.WriteAndVerify12 or ScsiOpcodes.WriteAndVerify16:
                Verify(m, unit, srb, write: true);
                return;
            case ScsiOpcodes.CompareAndWrite:
                CompareAndWrite(m, unit, srb);
                return;
            case ScsiOpcodes.SynchronizeCache10 or ScsiOpcodes.SynchronizeCache16:
                m.RentRequest().StartFlush(srb, unit);
                return;
            case ScsiOpcodes.Unmap:
                Unmap(m, unit, srb);
                return;
            case ScsiOpcodes.WriteSame10 or ScsiOpcodes.WriteSame16:
                WriteSame(m, unit, srb);
                return;
            case ScsiOpcodes.TestUnitReady:
            case ScsiOpcodes.StartStopUnit:
                m.CompleteGood(srb, 0);
                return;
            case ScsiOpcodes.Inquiry:
                Inquiry(m, unit, srb);
                return;
            case ScsiOpcodes.ReadCapacity10:
            {
                Span<byte> d = stackalloc byte[8];
                m.CompleteDataIn(srb, d[..ScsiResponses.ReadCapacity10(unit.Namespace, d)], 8);
                return;
            }
            case ScsiOpcodes.ServiceActionIn16 when srb.CdbLength >= 16 && (cdb[1] & 0x1F) == ScsiOpcodes.GetLbaStatusServiceAction && unit.Namespace.SupportsDeallocate:
                _ = GetLbaStatusAsync(m, unit, srb);
                return;
            case ScsiOpcodes.ServiceActionIn16:
                if (srb.CdbLength < 16 || (cdb[1] & 0x1F) != ScsiOpcodes.ReadCapacity16ServiceAction)
                {
                    m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(1, 4));
                    return;
                }
                else
                {
                    Span<byte> d = stackalloc byte[32];
                    m.CompleteDataIn(srb, d[..ScsiResponses.ReadCapacity16(unit.Namespace, d)], BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]));
                    return;
                }
            case ScsiOpcodes.ModeSense6 or ScsiOpcodes.ModeSense10:
                ModeSense(m, unit, srb);
                return;
            case ScsiOpcodes.ReportLuns:
                ReportLuns(m, srb);
                return;
            case ScsiOpcodes.MaintenanceIn when srb.CdbLength >= 12 && (cdb[1] & 0x1F) == ScsiOpcodes.ReportSupportedOperationCodesServiceAction:
            {
                Span<byte> d = stackalloc byte[SupportedCommands.MaxLength];
                int n = SupportedCommands.Report(cdb, unit.Namespace, d, out var bad);
                if (n < 0) m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, bad);
                else m.CompleteDataIn(srb, d[..n], BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]));
                return;
            }
            case ScsiOpcodes.MaintenanceIn:
                m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(1, 4));
                return;
            case ScsiOpcodes.RequestSense:
            {
                // Sense is returned with each failed command (autosense): only a unit attention can be pending.
                Span<byte> d = stackalloc byte[SenseData.MaxLength];
                int n = SenseData.Write(d, (cdb[1] & 1) != 0, unit.Attentions.TryTake(srb.Nexus, out var pending) ? pending : SenseCodes.NoSense);
                m.CompleteDataIn(srb, d[..n], cdb[4]);
                return;
            }
            default:
                m.CompleteCheckCondition(srb, SenseCodes.InvalidCommandOperationCode, SenseKeySpecific.Cdb(0));
                return;
        }
    }

    /// <summary>
    /// GET LBA STATUS (SBC-4 §5.6), which SBC-4 requires with LBPME: NVMe has no command that
    /// reports allocation, so the answer comes from the namespace's block device (the controller's
    /// own map of deallocated blocks). Not a hot path: the rare asynchronous answer may allocate.
    /// </summary>
    private static async Task GetLbaStatusAsync(NvmeMiniport m, NvmeUnit unit, Srb srb)
    {
        const int MaxDescriptors = 64;
        var ns = unit.Namespace;
        ulong lba = BinaryPrimitives.ReadUInt64BigEndian(srb.Cdb[2..]);
        uint allocation = BinaryPrimitives.ReadUInt32BigEndian(srb.Cdb[10..]);
        if (lba >= (ulong)ns.BlockCount)
        {
            m.CompleteCheckCondition(srb, SenseCodes.LbaOutOfRange);
            return;
        }
        int want = (int)Math.Clamp((allocation - 8L) / 16, 1, MaxDescriptors);
        var extents = System.Buffers.ArrayPool<BlockExtent>.Shared.Rent(want);
        try
        {
            int n;
            try { n = await ns.Device.GetExtentsAsync((long)lba, ns.BlockCount - (long)lba, extents.AsMemory(0, want)).ConfigureAwait(false); }
            catch (Exception ex)
            {
                m.CompleteNvmeError(srb, NvmeController.StatusOf(ex, write: false));
                return;
            }
            var data = new byte[8 + 16 * n];
            BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(data.Length - 4));
            for (int i = 0; i < n; i++)
            {
                var e = extents[i];
                var d = data.AsSpan(8 + 16 * i, 16);
                BinaryPrimitives.WriteUInt64BigEndian(d, (ulong)e.Lba);
                BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)Math.Min(e.BlockCount, uint.MaxValue));
                d[12] = (byte)((e.Flags & BlockExtentFlags.Hole) != 0 ? 1 : 0); // deallocated, else mapped
            }
            m.CompleteDataIn(srb, data, allocation);
        }
        finally { System.Buffers.ArrayPool<BlockExtent>.Shared.Return(extents); }
    }

    private static void ReadWrite(NvmeMiniport m, NvmeUnit unit, Srb srb, bool write)
    {
        if (!BlockCdb.TryRead(srb.Cdb, out var c))
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(0));
            return;
        }
        var ns = unit.Namespace;
        if (c.Protect != 0)
        {
            // No protection information on this namespace format (SBC-4 §5.14).
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(1, 7));
            return;
        }
        if (!BlockCdb.IsInRange(c.Lba, c.TransferLength, (ulong)ns.BlockCount))
        {
            m.CompleteCheckCondition(srb, SenseCodes.LbaOutOfRange);
            return;
        }
        if (write && ns.WriteProtected)
        {
            m.CompleteCheckCondition(srb, SenseCodes.WriteProtected);
            return;
        }
        m.RentRequest().StartTransfer(srb, unit, write ? NvmeOpcodes.Write : NvmeOpcodes.Read, c.Lba, c.TransferLength, c.Fua);
    }

    /// <summary>
    /// VERIFY 10 / 12 / 16 (SBC-4 §5.35 - §5.37): BYTCHK 00b becomes NVMe Verify (the blocks are read
    /// back on the device; nothing moves), BYTCHK 01b NVMe Compare against the Data-Out buffer
    /// (MISCOMPARE on a difference). BYTCHK 1xb (WRITE AND VERIFY: reserved; VERIFY: one block
    /// compared with every block, which has no NVMe form) is refused. WRITE AND VERIFY 10 / 12 / 16
    /// (SBC-4 §5.45 - §5.47) is an NVMe Write with FUA, then the Verify or Compare of those blocks.
    /// </summary>
    private static void Verify(NvmeMiniport m, NvmeUnit unit, Srb srb, bool write)
    {
        if (!BlockCdb.TryRead(srb.Cdb, out var c))
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(0));
            return;
        }
        var ns = unit.Namespace;
        int bytchk = (srb.Cdb[1] >> 1) & 3;
        if (c.Protect != 0)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(1, 7)); // VRPROTECT: no protection information
            return;
        }
        if (bytchk is 2 or 3)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(1, 2));
            return;
        }
        if (!BlockCdb.IsInRange(c.Lba, c.TransferLength, (ulong)ns.BlockCount))
        {
            m.CompleteCheckCondition(srb, SenseCodes.LbaOutOfRange);
            return;
        }
        if (write && ns.WriteProtected)
        {
            m.CompleteCheckCondition(srb, SenseCodes.WriteProtected);
            return;
        }
        if (c.TransferLength == 0) { m.CompleteGood(srb, 0); return; }
        if (write) m.RentRequest().StartTransfer(srb, unit, NvmeOpcodes.Write, c.Lba, c.TransferLength, fua: true, then: bytchk == 0 ? NvmeOpcodes.Verify : NvmeOpcodes.Compare);
        else if (bytchk == 0) m.RentRequest().StartVerify(srb, unit, c.Lba, c.TransferLength);
        else m.RentRequest().StartTransfer(srb, unit, NvmeOpcodes.Compare, c.Lba, c.TransferLength, fua: false);
    }

    /// <summary>
    /// COMPARE AND WRITE (SBC-4 §5.3): a fused NVMe Compare + Write of the same blocks, atomic
    /// against every other COMPARE AND WRITE of the namespace. The Data-Out buffer is the verify
    /// data then the write data, 2 × N blocks exactly.
    /// </summary>
    private static void CompareAndWrite(NvmeMiniport m, NvmeUnit unit, Srb srb)
    {
        var cdb = srb.Cdb;
        var ns = unit.Namespace;
        if (srb.CdbLength < 16)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(0));
            return;
        }
        if ((cdb[1] & 0xE0) != 0)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(1, 7)); // WRPROTECT
            return;
        }
        ulong lba = BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]);
        int blocks = cdb[13];
        int buffer = NvmeMiniport.BufferLength(srb);
        if (blocks == 0)
        {
            // Zero blocks is not an error and moves nothing; a Data-Out buffer that comes anyway contradicts the CDB.
            if (buffer != 0) m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(13));
            else m.CompleteGood(srb, 0);
            return;
        }
        if (blocks > ScsiResponses.MaxCompareAndWriteBlocks(m.Options.MaximumTransferLength, ns.BlockSize))
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(13));
            return;
        }
        if (!BlockCdb.IsInRange(lba, (ulong)blocks, (ulong)ns.BlockCount))
        {
            m.CompleteCheckCondition(srb, SenseCodes.LbaOutOfRange);
            return;
        }
        if (ns.WriteProtected)
        {
            m.CompleteCheckCondition(srb, SenseCodes.WriteProtected);
            return;
        }
        if (buffer != 2 * blocks * ns.BlockSize)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(13));
            return;
        }
        m.RentRequest().StartCompareAndWrite(srb, unit, lba, blocks);
    }

    private static void Inquiry(NvmeMiniport m, NvmeUnit? unit, Srb srb)
    {
        var cdb = srb.Cdb;
        bool evpd = (cdb[1] & 1) != 0;
        byte page = cdb[2];
        int allocation = BinaryPrimitives.ReadUInt16BigEndian(cdb[3..]);
        Span<byte> d = stackalloc byte[256];
        if (!evpd)
        {
            if (page != 0)
            {
                m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(2));
                return;
            }
            m.CompleteDataIn(srb, d[..ScsiResponses.Inquiry(unit, d)], allocation);
            return;
        }
        int n = unit is null ? -1 : ScsiResponses.Vpd(page, unit, m.Options.MaximumTransferLength, m.Options.PageSize, d);
        if (n < 0)
        {
            m.CompleteCheckCondition(srb, unit is null ? SenseCodes.LogicalUnitNotSupported : SenseCodes.InvalidFieldInCdb, unit is null ? default : SenseKeySpecific.Cdb(2));
            return;
        }
        m.CompleteDataIn(srb, d[..n], allocation);
    }

    private static void ModeSense(NvmeMiniport m, NvmeUnit unit, Srb srb)
    {
        var cdb = srb.Cdb;
        bool ten = cdb[0] == ScsiOpcodes.ModeSense10;
        if (ten && srb.CdbLength < 10)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(0));
            return;
        }
        bool dbd = (cdb[1] & 0x08) != 0;
        int pc = cdb[2] >> 6;
        int page = cdb[2] & 0x3F;
        long allocation = ten ? BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]) : cdb[4];
        if (pc == 3)
        {
            m.CompleteCheckCondition(srb, SenseCodes.SavingParametersNotSupported);
            return;
        }
        if (cdb[3] != 0 && !(page == 0x3F && cdb[3] == 0xFF))
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(3));
            return;
        }
        Span<byte> d = stackalloc byte[64];
        int n = ScsiResponses.ModeSense(unit.Namespace, ten, dbd, pc, page, d);
        if (n < 0)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(2, 5));
            return;
        }
        m.CompleteDataIn(srb, d[..n], allocation);
    }

    private static void ReportLuns(NvmeMiniport m, Srb srb)
    {
        var cdb = srb.Cdb;
        if (srb.CdbLength < 12)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(0));
            return;
        }
        uint allocation = BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]);
        if (cdb[2] is not (0x00 or 0x01 or 0x02))
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(2));
            return;
        }
        if (allocation < 16)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(6));
            return;
        }
        Span<byte> d = stackalloc byte[MaxResponse];
        var luns = cdb[2] == 0x01 ? [] : m.LunsOf(srb.Address.PathId, srb.Address.TargetId);
        m.CompleteDataIn(srb, d[..ScsiResponses.ReportLuns(luns, d)], allocation);
    }

    /// <summary>UNMAP (SBC-4 §5.33): the block descriptors become one Dataset Management deallocate.</summary>
    private static void Unmap(NvmeMiniport m, NvmeUnit unit, Srb srb)
    {
        var ns = unit.Namespace;
        var cdb = srb.Cdb;
        if (!ns.SupportsDeallocate)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidCommandOperationCode, SenseKeySpecific.Cdb(0));
            return;
        }
        if (ns.WriteProtected)
        {
            m.CompleteCheckCondition(srb, SenseCodes.WriteProtected);
            return;
        }
        int listLength = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        if (listLength == 0) { m.CompleteGood(srb, 0); return; }
        if (listLength < 8)
        {
            m.CompleteCheckCondition(srb, SenseCodes.ParameterListLengthError);
            return;
        }
        Span<byte> list = stackalloc byte[8 + 16 * NvmeController.MaxDatasetRanges];
        int have = srb.Data.CopyTo(0, list[..Math.Min(list.Length, Math.Min(listLength, NvmeMiniport.BufferLength(srb)))]);
        if (have < 8)
        {
            m.CompleteCheckCondition(srb, SenseCodes.ParameterListLengthError);
            return;
        }
        int descriptorBytes = BinaryPrimitives.ReadUInt16BigEndian(list[2..]);
        int count = Math.Min(descriptorBytes, have - 8) / 16;
        if (descriptorBytes / 16 > NvmeController.MaxDatasetRanges)
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(2));
            return;
        }
        int ranges = 0;
        for (int i = 0; i < count; i++)
        {
            var desc = list.Slice(8 + i * 16, 16);
            ulong lba = BinaryPrimitives.ReadUInt64BigEndian(desc);
            uint blocks = BinaryPrimitives.ReadUInt32BigEndian(desc[8..]);
            if (!BlockCdb.IsInRange(lba, blocks, (ulong)ns.BlockCount))
            {
                m.CompleteCheckCondition(srb, SenseCodes.LbaOutOfRange);
                return;
            }
            if (blocks != 0) ranges++;
        }
        if (ranges == 0) { m.CompleteGood(srb, listLength); return; }
        m.RentRequest().StartDeallocate(srb, unit, list.Slice(8, count * 16), ranges, listLength);
    }

    /// <summary>
    /// WRITE SAME (SBC-4 §5.48, §5.49): of a zero block or with NDOB one Write Zeroes, deallocating
    /// when UNMAP is set; of any other block, Writes of a pooled buffer filled with the block.
    /// </summary>
    private static void WriteSame(NvmeMiniport m, NvmeUnit unit, Srb srb)
    {
        var ns = unit.Namespace;
        var cdb = srb.Cdb;
        bool sixteen = cdb[0] == ScsiOpcodes.WriteSame16;
        if (srb.CdbLength < (sixteen ? 16 : 10))
        {
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(0));
            return;
        }
        bool unmap = (cdb[1] & 0x08) != 0;
        bool ndob = sixteen && (cdb[1] & 0x01) != 0;
        ulong lba = sixteen ? BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]) : BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]);
        uint blocks = sixteen ? BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]) : BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        int countByte = sixteen ? 10 : 7;
        if ((cdb[1] & 0xE0) != 0 || (cdb[1] & 0x10) != 0)
        {
            // WRPROTECT (no protection information) and ANCHOR (no anchored state) are not supported.
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(1, (cdb[1] & 0xE0) != 0 ? 7 : 4));
            return;
        }
        if (blocks == 0 || blocks > ScsiResponses.MaxWriteSameBlocks)
        {
            // WSNZ = 1 and MAXIMUM WRITE SAME LENGTH = 65536 blocks (VPD B0h).
            m.CompleteCheckCondition(srb, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(countByte));
            return;
        }
        if (!BlockCdb.IsInRange(lba, blocks, (ulong)ns.BlockCount))
        {
            m.CompleteCheckCondition(srb, SenseCodes.LbaOutOfRange);
            return;
        }
        if (ns.WriteProtected)
        {
            m.CompleteCheckCondition(srb, SenseCodes.WriteProtected);
            return;
        }
        long dataBytes = ndob ? 0 : ns.BlockSize;
        if (!ndob)
        {
            if (NvmeMiniport.BufferLength(srb) < ns.BlockSize)
            {
                m.CompleteCheckCondition(srb, SenseCodes.ParameterListLengthError);
                return;
            }
            Span<byte> chunk = stackalloc byte[512];
            for (int at = 0; at < ns.BlockSize; at += chunk.Length)
            {
                srb.Data.CopyTo(at, chunk);
                if (chunk.ContainsAnyExcept((byte)0))
                {
                    // A pattern has no single NVMe command: Writes of a buffer filled with the block.
                    // UNMAP is a request, not a duty (SBC-4 §4.7.3.4): blocks that are not zero are written.
                    m.RentRequest().StartPatternWrite(srb, unit, lba, blocks, fua: false);
                    return;
                }
            }
        }
        m.RentRequest().StartWriteZeroes(srb, unit, lba, (int)blocks, unmap && ns.SupportsDeallocate, dataBytes);
    }
}
