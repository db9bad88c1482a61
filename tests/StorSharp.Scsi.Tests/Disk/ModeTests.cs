using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class ModeTests
{
    private static byte[] ModeSense6(byte page, int pc = 0, bool dbd = false, int allocation = 255, byte subpage = 0) =>
        [0x1A, (byte)(dbd ? 0x08 : 0), (byte)((pc << 6) | page), subpage, (byte)allocation, 0];

    private static byte[] ModeSense10(byte page, bool llbaa = false, int allocation = 1024) =>
        [0x5A, (byte)(llbaa ? 0x10 : 0), page, 0, 0, 0, 0, (byte)(allocation >> 8), (byte)allocation, 0];

    private static Dictionary<byte, byte[]> Pages(byte[] data, int header, int descriptors)
    {
        var pages = new Dictionary<byte, byte[]>();
        for (int i = header + descriptors; i + 2 <= data.Length; i += 2 + data[i + 1]) pages[(byte)(data[i] & 0x3F)] = data[i..(i + 2 + data[i + 1])];
        return pages;
    }

    [Fact]
    public async Task Mode_sense6_all_pages_has_header_block_descriptor_and_pages()
    {
        var (h, _) = await DiskHarness.SingleAsync(new TestBlockDevice(1000, 512));
        await using var _h = h;
        var r = await h.ExecAsync(ModeSense6(0x3F), 255);
        r.AssertGood();
        var d = r.Data;
        Assert.Equal(d.Length - 1, d[0]);
        Assert.Equal(0x10, d[2]);                 // DPOFUA, not WP
        Assert.Equal(8, d[3]);
        Assert.Equal(1000u, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)));
        Assert.Equal(512, (d[9] << 16) | (d[10] << 8) | d[11]);
        var pages = Pages(d, 4, 8);
        Assert.Equal(new byte[] { 0x08, 0x0A, 0x1C }, pages.Keys.Order().ToArray());
        Assert.Equal(0x04, pages[0x08][2] & 0x04);  // WCE = 1: Linux sd then sends SYNCHRONIZE CACHE
        Assert.Equal(0x12, pages[0x08][1]);
        Assert.Equal(0x0A, pages[0x0A][1]);
    }

    [Fact]
    public async Task Mode_sense10_long_lba_block_descriptor()
    {
        var (h, _) = await DiskHarness.SingleAsync(new TestBlockDevice(64, 4096));
        await using var _h = h;
        var r = await h.ExecAsync(ModeSense10(0x08, llbaa: true), 1024);
        r.AssertGood();
        Assert.Equal(r.Data.Length - 2, BinaryPrimitives.ReadUInt16BigEndian(r.Data));
        Assert.Equal(1, r.Data[4] & 1);
        Assert.Equal(16, BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(6)));
        Assert.Equal(64ul, BinaryPrimitives.ReadUInt64BigEndian(r.Data.AsSpan(8)));
        Assert.Equal(4096u, BinaryPrimitives.ReadUInt32BigEndian(r.Data.AsSpan(20)));
        Assert.Equal(0x08, r.Data[24]);
    }

    [Fact]
    public async Task Changeable_values_and_saved_values()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(ModeSense6(0x0A, pc: 1, dbd: true), 255);
        var control = Pages(r.Data, 4, 0)[0x0A];
        Assert.Equal(0x04, control[2]);
        Assert.Equal(0x08, control[4]);
        var saved = await h.ExecAsync(ModeSense6(0x08, pc: 3), 255);
        saved.AssertCheckCondition(SenseCodes.SavingParametersNotSupported);
        var unknown = await h.ExecAsync(ModeSense6(0x19), 255);
        unknown.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(SenseKeySpecific.Cdb(2, 5), unknown.SenseInfo.Specific);
    }

    [Fact]
    public async Task Read_only_lu_reports_wp()
    {
        var (h, _) = await DiskHarness.SingleAsync(configure: d => d with { ReadOnly = true });
        await using var _h = h;
        var r = await h.ExecAsync(ModeSense6(0x3F), 255);
        Assert.Equal(0x80, r.Data[2] & 0x80);
    }

    private static byte[] Select6(params byte[] page) => [0, 0, 0, 0, .. page];

    private static byte[] ControlPage(bool dsense, bool swp) => [0x0A, 0x0A, (byte)(dsense ? 0x04 : 0), 0x10, (byte)(swp ? 0x08 : 0), 0, 0, 0, 0, 0, 0, 0];

    [Fact]
    public async Task Mode_select_sets_swp_then_writes_are_write_protected()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var list = Select6(ControlPage(false, true));
        (await h.ExecAsync([0x15, 0x10, 0, 0, (byte)list.Length, 0], dataOut: list)).AssertGood();
        var w = await h.ExecAsync(Cdbs.Write10(0, 1), dataOut: new byte[512]);
        w.AssertCheckCondition(SenseCodes.WriteProtected);
        Assert.Equal(0, dev.WriteCount);
        var ms = await h.ExecAsync(ModeSense6(0x3F), 255);
        Assert.Equal(0x80, ms.Data[2] & 0x80);
        list = Select6(ControlPage(false, false));
        (await h.ExecAsync([0x15, 0x10, 0, 0, (byte)list.Length, 0], dataOut: list)).AssertGood();
        (await h.ExecAsync(Cdbs.Write10(0, 1), dataOut: new byte[512])).AssertGood();
    }

    [Fact]
    public async Task Mode_select_d_sense_switches_to_descriptor_sense()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var list = Select6(ControlPage(true, false));
        (await h.ExecAsync([0x15, 0x10, 0, 0, (byte)list.Length, 0], dataOut: list)).AssertGood();
        var r = await h.ExecAsync([0xFD, 0, 0, 0, 0, 0]);
        Assert.Equal(0x72, r.Sense[0]);
    }

    [Fact]
    public async Task Mode_select_of_an_unchangeable_bit_points_into_the_parameter_list()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var page = ControlPage(false, false);
        page[5] = 0x40; // TAS: not changeable
        var list = Select6(page);
        var r = await h.ExecAsync([0x15, 0x10, 0, 0, (byte)list.Length, 0], dataOut: list);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);
        Assert.Equal(SenseKeySpecific.Parameter(4 + 5, 6), r.SenseInfo.Specific);
        var wrongLength = Select6([0x08, 0x10, .. new byte[16]]);
        r = await h.ExecAsync([0x15, 0x10, 0, 0, (byte)wrongLength.Length, 0], dataOut: wrongLength);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInParameterList);
        Assert.Equal(5, r.SenseInfo.Specific.Field);
        r = await h.ExecAsync([0x15, 0x11, 0, 0, (byte)list.Length, 0], dataOut: list);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        r = await h.ExecAsync([0x15, 0x10, 0, 0, 40, 0], dataOut: list);
        r.AssertCheckCondition(SenseCodes.ParameterListLengthError);
    }

    [Fact]
    public async Task Wce_off_forces_unit_access_and_other_nexus_gets_mode_parameters_changed()
    {
        var (h, dev) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var other = new InitiatorNexus("other", "t");
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: other)).AssertCheckCondition(SenseCodes.PowerOnReset);
        byte[] caching = [0x08, 0x12, .. new byte[18]];
        var list = Select6(caching);
        (await h.ExecAsync([0x15, 0x10, 0, 0, (byte)list.Length, 0], dataOut: list)).AssertGood();
        (await h.ExecAsync(Cdbs.Write10(0, 1), dataOut: new byte[512])).AssertGood();
        Assert.Equal(BlockWriteFlags.ForceUnitAccess, dev.LastWriteFlags);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: other)).AssertCheckCondition(SenseCodes.ModeParametersChanged);
        (await h.ExecAsync(Cdbs.TestUnitReady(), nexus: other)).AssertGood();
    }
}
