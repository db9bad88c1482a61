using System.Buffers.Binary;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

/// <summary>EXTENDED COPY (LID1, SPC-4 §6.4) and RECEIVE COPY RESULTS (SPC-4 §6.18).</summary>
public class ExtendedCopyTests
{
    private static readonly byte[] NaaA = [0x3A, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x01];
    private static readonly byte[] NaaB = [0x3A, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x02];

    private static byte[] Xcopy(int length)
    {
        var cdb = new byte[16];
        cdb[0] = 0x83;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(10), (uint)length);
        return cdb;
    }

    private static byte[] Rcr(byte sa, byte listId = 0, int allocation = 1024)
    {
        var cdb = new byte[16];
        cdb[0] = 0x84;
        cdb[1] = sa;
        cdb[2] = listId;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(10), (uint)allocation);
        return cdb;
    }

    /// <summary>An E4h identification CSCD descriptor naming an LU by its NAA designator (SPC-4 §6.4.5.6).</summary>
    private static byte[] Cscd(byte[] naa, int blockSize = 512, byte type = 0xE4)
    {
        var d = new byte[32];
        d[0] = type;
        d[4] = 0x01;            // code set binary
        d[5] = 0x03;            // association LU, designator type NAA
        d[7] = (byte)naa.Length;
        naa.CopyTo(d, 8);
        d[29] = (byte)(blockSize >> 16); d[30] = (byte)(blockSize >> 8); d[31] = (byte)blockSize;
        return d;
    }

    /// <summary>A block → block (02h) segment descriptor (SPC-4 §6.4.6.5).</summary>
    private static byte[] Segment(int src, int dst, ushort blocks, ulong srcLba, ulong dstLba, byte type = 0x02)
    {
        var d = new byte[28];
        d[0] = type;
        d[3] = 24;
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(4), (ushort)src);
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(6), (ushort)dst);
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(10), blocks);
        BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(12), srcLba);
        BinaryPrimitives.WriteUInt64BigEndian(d.AsSpan(20), dstLba);
        return d;
    }

    private static byte[] List(byte[][] cscds, byte[][] segments, byte listId = 1, int usage = 0)
    {
        int cl = cscds.Sum(c => c.Length), sl = segments.Sum(s => s.Length);
        var p = new byte[16 + cl + sl];
        p[0] = listId;
        p[1] = (byte)(usage << 3);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)cl);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), (uint)sl);
        int off = 16;
        foreach (var c in cscds.Concat(segments)) { c.CopyTo(p, off); off += c.Length; }
        return p;
    }

    private static async Task<(DiskHarness H, TestBlockDevice A, TestBlockDevice B)> TwoAsync(int blockSizeB = 512, bool readOnlyB = false, long blocks = 1024)
    {
        var a = new TestBlockDevice(blockCount: blocks);
        var b = new TestBlockDevice(blockCount: blocks * 512 / blockSizeB, blockSize: blockSizeB);
        var h = await DiskHarness.CreateAsync(
            new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), a) { NaaIdentifier = NaaA, SerialNumber = "XA" },
            new ScsiDiskDefinition(new ScsiAddress(0, 0, 1), b) { NaaIdentifier = NaaB, SerialNumber = "XB", ReadOnly = readOnlyB });
        return (h, a, b);
    }

    private static Task<ScsiResult> Send(DiskHarness h, byte[] list, int? length = null) =>
        h.ExecAsync(Xcopy(length ?? list.Length), dataOut: length is { } n ? list[..Math.Min(n, list.Length)] : list);

    [Fact]
    public async Task Copies_blocks_within_one_lu()
    {
        var (h, a, _) = await TwoAsync();
        await using var _h = h;
        Cdbs.Pattern(16 * 512, 7).CopyTo(a.Bytes[(10 * 512)..]);
        var r = await Send(h, List([Cscd(NaaA)], [Segment(0, 0, 16, 10, 900)], usage: 2));
        r.AssertGood();
        Assert.Equal(a.Bytes.Slice(10 * 512, 16 * 512).ToArray(), a.Bytes.Slice(900 * 512, 16 * 512).ToArray());
    }

    [Fact]
    public async Task Copies_across_lus_of_the_miniport_with_different_block_sizes()
    {
        // 512-byte source, 4096-byte destination: DC = 0 counts source blocks (SPC-4 §6.4.6.5).
        var (h, a, b) = await TwoAsync(blockSizeB: 4096);
        await using var _h = h;
        Cdbs.Pattern(16 * 512, 3).CopyTo(a.Bytes[(8 * 512)..]);
        var r = await Send(h, List([Cscd(NaaA), Cscd(NaaB, 4096)], [Segment(0, 1, 16, 8, 5)]));
        r.AssertGood();
        Assert.Equal(a.Bytes.Slice(8 * 512, 16 * 512).ToArray(), b.Bytes.Slice(5 * 4096, 2 * 4096).ToArray());
        // 3 source blocks are not a whole number of 4096-byte destination blocks.
        (await Send(h, List([Cscd(NaaA), Cscd(NaaB, 4096)], [Segment(0, 1, 3, 8, 5)]))).AssertCheckCondition(SenseCodes.UnexpectedInexactSegment);
    }

    [Fact]
    public async Task Large_copies_move_in_bounded_chunks()
    {
        var (h, a, b) = await TwoAsync(blocks: 8192);
        await using var _h = h;
        Cdbs.Pattern(4096 * 512, 5).CopyTo(a.Bytes);
        int reads = a.ReadCount;
        var r = await Send(h, List([Cscd(NaaA), Cscd(NaaB)], [Segment(0, 1, 4096, 0, 4096)]));
        r.AssertGood();
        Assert.Equal(2, a.ReadCount - reads); // 2 MiB in 1 MiB chunks
        Assert.Equal(a.Bytes[..(4096 * 512)].ToArray(), b.Bytes.Slice(4096 * 512, 4096 * 512).ToArray());
    }

    [Fact]
    public async Task Overlapping_copy_upwards_on_one_lu_copies_the_original_data()
    {
        var (h, a, _) = await TwoAsync(blocks: 8192);
        await using var _h = h;
        var original = Cdbs.Pattern(3000 * 512, 9);
        original.CopyTo(a.Bytes);
        (await Send(h, List([Cscd(NaaA)], [Segment(0, 0, 3000, 0, 1000)]))).AssertGood();
        Assert.Equal(original, a.Bytes.Slice(1000 * 512, 3000 * 512).ToArray());
    }

    [Fact]
    public async Task Parameter_list_length_rules()
    {
        var (h, _, _) = await TwoAsync();
        await using var _h = h;
        var list = List([Cscd(NaaA)], [Segment(0, 0, 8, 0, 100)]);
        // SPC-4 §6.4.1: zero transfers nothing and is not an error.
        (await h.ExecAsync(Xcopy(0))).AssertGood();
        (await Send(h, list, 10)).AssertCheckCondition(SenseCodes.ParameterListLengthError);
        (await Send(h, list, 16 + 31)).AssertCheckCondition(SenseCodes.ParameterListLengthError);
        (await Send(h, list, 16 + 32 + 27)).AssertCheckCondition(SenseCodes.ParameterListLengthError);
    }

    [Fact]
    public async Task Descriptor_counts_and_list_length_limits()
    {
        var (h, _, _) = await TwoAsync();
        await using var _h = h;
        var seg = Segment(0, 0, 8, 0, 100);
        var cscds = Enumerable.Repeat(Cscd(NaaA), ExtendedCopyCommands.MaxCscdDescriptors + 1).ToArray();
        (await Send(h, List(cscds, [seg]))).AssertCheckCondition(SenseCodes.TooManyTargetDescriptors);
        var segs = Enumerable.Repeat(seg, ExtendedCopyCommands.MaxSegmentDescriptors + 1).ToArray();
        (await Send(h, List([Cscd(NaaA)], segs))).AssertCheckCondition(SenseCodes.TooManySegmentDescriptors);
        // SPC-4 §6.4.3.1: descriptor lists beyond MAXIMUM DESCRIPTOR LIST LENGTH.
        var many = Enumerable.Repeat(seg, ExtendedCopyCommands.MaxDescriptorListLength / 28 + 1).ToArray();
        (await Send(h, List([Cscd(NaaA)], many))).AssertCheckCondition(SenseCodes.ParameterListLengthError);
    }

    [Fact]
    public async Task Unsupported_descriptor_types()
    {
        var (h, _, _) = await TwoAsync();
        await using var _h = h;
        var r = await Send(h, List([Cscd(NaaA, type: 0xE0)], [Segment(0, 0, 8, 0, 100)]));
        r.AssertCheckCondition(SenseCodes.UnsupportedTargetDescriptorTypeCode);
        Assert.Equal(SenseKeySpecific.Parameter(16), r.SenseInfo.Specific);
        var stream = Segment(0, 0, 8, 0, 100, type: 0x03)[..20];
        stream[3] = 16;
        (await Send(h, List([Cscd(NaaA)], [stream]))).AssertCheckCondition(SenseCodes.UnsupportedSegmentDescriptorTypeCode);
    }

    [Fact]
    public async Task Header_fields_are_checked_with_a_parameter_field_pointer()
    {
        var (h, _, _) = await TwoAsync();
        await using var _h = h;
        // SPC-4 §6.4.3.2: LIST ID USAGE 01b is reserved; 11b needs LIST IDENTIFIER 0.
        var r = await Send(h, List([Cscd(NaaA)], [Segment(0, 0, 8, 0, 100)], usage: 1));
        r.AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);
        Assert.Equal(SenseKeySpecific.Parameter(1, 4), r.SenseInfo.Specific);
        r = await Send(h, List([Cscd(NaaA)], [Segment(0, 0, 8, 0, 100)], listId: 5, usage: 3));
        Assert.Equal(SenseKeySpecific.Parameter(0), r.SenseInfo.Specific);
        (await Send(h, List([Cscd(NaaA)], [Segment(0, 0, 8, 0, 100)], listId: 0, usage: 3))).AssertGood();
        // A designator other than NAA, and a wrong DISK BLOCK LENGTH.
        var t10 = Cscd(NaaA); t10[5] = 0x01;
        r = await Send(h, List([t10], [Segment(0, 0, 8, 0, 100)]));
        r.AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);
        Assert.Equal(SenseKeySpecific.Parameter(16 + 5, 3), r.SenseInfo.Specific);
        r = await Send(h, List([Cscd(NaaA, 4096)], [Segment(0, 0, 8, 0, 100)]));
        Assert.Equal(SenseKeySpecific.Parameter(16 + 29), r.SenseInfo.Specific);
    }

    [Fact]
    public async Task Unreachable_targets_and_ranges_abort_the_copy_with_a_segment_pointer()
    {
        var (h, a, _) = await TwoAsync();
        await using var _h = h;
        int writes = a.WriteCount;
        // An NAA no LU of this miniport has, and an index beyond the CSCD list: SPC-4 §6.4.3.5.
        var r = await Send(h, List([Cscd([0x3A, 9, 9, 9, 9, 9, 9, 9])], [Segment(0, 0, 8, 0, 100)]));
        r.AssertCheckCondition(SenseCodes.UnreachableCopyTarget);
        Assert.Equal(SenseKeySpecific.Segment(48), r.SenseInfo.Specific);
        (await Send(h, List([Cscd(NaaA)], [Segment(0, 1, 8, 0, 100)]))).AssertCheckCondition(SenseCodes.UnreachableCopyTarget);
        (await Send(h, List([Cscd(NaaA)], [Segment(0, 0, 8, 0, 1023)]))).AssertCheckCondition(SenseCodes.CopyTargetDeviceNotReachable);
        Assert.Equal(writes, a.WriteCount); // checked before any block moved
    }

    [Fact]
    public async Task Write_protected_destination_is_data_protect_and_source_may_be_read_only()
    {
        var (h, a, b) = await TwoAsync(readOnlyB: true);
        await using var _h = h;
        (await Send(h, List([Cscd(NaaA), Cscd(NaaB)], [Segment(0, 1, 8, 0, 100)]))).AssertCheckCondition(SenseCodes.WriteProtected);
        (await Send(h, List([Cscd(NaaA), Cscd(NaaB)], [Segment(1, 0, 8, 0, 100)]))).AssertGood();
    }

    [Fact]
    public async Task Copy_status_and_failed_segment_details()
    {
        var (h, _, _) = await TwoAsync();
        await using var _h = h;
        // No copy with this list identifier: INVALID FIELD IN CDB, byte 2 (SPC-4 §6.18.1).
        var r = await h.ExecAsync(Rcr(0x00, 7), 1024);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(SenseKeySpecific.Cdb(2), r.SenseInfo.Specific);

        (await Send(h, List([Cscd(NaaA)], [Segment(0, 0, 8, 0, 100)], listId: 7))).AssertGood();
        r = await h.ExecAsync(Rcr(0x00, 7), 1024);
        r.AssertGood();
        Assert.Equal(12, r.DataTransferLength);
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32BigEndian(r.Data));
        Assert.Equal(0x01, r.Data[4]); // completed, good
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(5)));
        Assert.Equal(0, r.Data[7]);    // bytes
        Assert.Equal(8u * 512, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(8)));
        (await h.ExecAsync(Rcr(0x00, 7), 1024)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb); // reported once

        (await Send(h, List([Cscd(NaaA)], [Segment(0, 1, 8, 0, 100)], listId: 8))).AssertCheckCondition(SenseCodes.UnreachableCopyTarget);
        r = await h.ExecAsync(Rcr(0x00, 8), 1024);
        Assert.Equal(0x02, r.Data[4]); // completed with an error
        r = await h.ExecAsync(Rcr(0x04, 8), 1024);
        r.AssertGood();
        Assert.Equal((byte)ScsiStatus.CheckCondition, r.Data[56]);
        int senseLength = BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(58));
        Assert.True(SenseData.TryParse(r.Data.AsSpan(60, senseLength), out var info));
        Assert.Equal(SenseCodes.UnreachableCopyTarget, info.Code);
        (await h.ExecAsync(Rcr(0x04, 8), 1024)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);

        // LIST ID USAGE 11b holds nothing.
        (await Send(h, List([Cscd(NaaA)], [Segment(0, 0, 8, 0, 100)], listId: 0, usage: 3))).AssertGood();
        (await h.ExecAsync(Rcr(0x00, 0), 1024)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
    }

    [Fact]
    public async Task Results_are_per_nexus_and_dropped_on_nexus_loss()
    {
        var (h, _, _) = await TwoAsync();
        await using var _h = h;
        var n1 = new InitiatorNexus("i1", "p", 1);
        var n2 = new InitiatorNexus("i2", "p", 1);
        await h.ExecAsync(Cdbs.TestUnitReady(), nexus: n1); // consume the power-on unit attention
        await h.ExecAsync(Cdbs.TestUnitReady(), nexus: n2);
        var list = List([Cscd(NaaA)], [Segment(0, 0, 8, 0, 100)], listId: 3);
        (await h.ExecAsync(Xcopy(list.Length), dataOut: list, nexus: n1)).AssertGood();
        (await h.ExecAsync(Rcr(0x00, 3), 1024, nexus: n2)).AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        (await h.ExecAsync(Rcr(0x01, 3), 1024, nexus: n1)).AssertGood();
    }

    [Fact]
    public async Task Operating_parameters_match_the_enforced_limits()
    {
        var (h, _, _) = await TwoAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Rcr(0x03), 1024);
        r.AssertGood();
        var d = r.Data.AsSpan(0, r.DataTransferLength);
        Assert.Equal((uint)(d.Length - 4), BinaryPrimitives.ReadUInt32BigEndian(d));
        Assert.Equal(ExtendedCopyCommands.MaxCscdDescriptors, BinaryPrimitives.ReadUInt16BigEndian(d[8..]));
        Assert.Equal(ExtendedCopyCommands.MaxSegmentDescriptors, BinaryPrimitives.ReadUInt16BigEndian(d[10..]));
        Assert.Equal((uint)ExtendedCopyCommands.MaxDescriptorListLength, BinaryPrimitives.ReadUInt32BigEndian(d[12..]));
        Assert.Equal((uint)ExtendedCopyCommands.MaxSegmentBytes, BinaryPrimitives.ReadUInt32BigEndian(d[16..]));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(d[20..])); // no inline data
        Assert.Equal(2, d[43]);
        Assert.Equal([0x02, 0xE4], d[44..46].ToArray());
        // Standard INQUIRY: 3PC (SPC-4 §6.6.2).
        var inq = await h.ExecAsync(Cdbs.Inquiry(96), 96);
        Assert.Equal(0x08, inq.Data[5] & 0x08);
    }
}
