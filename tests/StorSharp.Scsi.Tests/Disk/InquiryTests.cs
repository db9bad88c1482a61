using System.Text;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class InquiryTests
{
    [Fact]
    public async Task Standard_inquiry_fields()
    {
        var (h, _) = await DiskHarness.SingleAsync(configure: d => d with { ProductRevision = "2.5", Removable = true });
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Inquiry(96), 96);
        Assert.Equal(SrbStatus.Success, r.Status);
        var d = r.Data;
        Assert.Equal(96, d.Length);
        Assert.Equal(0x00, d[0]);            // PQ 0, PDT 0
        Assert.Equal(0x80, d[1]);            // RMB
        Assert.Equal(0x06, d[2]);            // SPC-4
        Assert.Equal(0x12, d[3]);            // HISUP, RDF 2
        Assert.Equal(91, d[4]);              // additional length
        Assert.Equal(0x02, d[7] & 0x02);     // CMDQUE
        Assert.Equal("StorShrp", Encoding.ASCII.GetString(d, 8, 8));
        Assert.Equal("Test Disk       ", Encoding.ASCII.GetString(d, 16, 16));
        Assert.Equal("2.5 ", Encoding.ASCII.GetString(d, 32, 4));
        Assert.Equal([0x00, 0xA0, 0x04, 0x60, 0x04, 0xC0], d[58..64]);
    }

    [Fact]
    public async Task Short_allocation_truncates_and_reports_the_length_moved()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Inquiry(36), 36);
        Assert.Equal(SrbStatus.Success, r.Status);
        Assert.Equal(36, r.DataTransferLength);
    }

    [Fact]
    public async Task Evpd_zero_with_page_code_is_invalid_field_at_byte_2()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Inquiry(96, evpd: false, page: 0x80), 96);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(SenseKeySpecific.Cdb(2), r.SenseInfo.Specific);
    }

    [Fact]
    public async Task Unknown_vpd_page_is_invalid_field()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Inquiry(255, evpd: true, page: 0xC7), 255);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(2, r.SenseInfo.Specific.Field);
    }

    [Fact]
    public async Task Cmddt_bit_is_a_reserved_bit()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync([0x12, 0x02, 0, 0, 96, 0], 96);
        r.AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.Equal(SenseKeySpecific.Cdb(1, 1), r.SenseInfo.Specific);
    }

    [Fact]
    public async Task Vpd_supported_pages_and_serial()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var r = await h.ExecAsync(Cdbs.Inquiry(255, true, 0x00), 255);
        r.AssertGood();
        Assert.Equal(0x00, r.Data[1]);
        var pages = r.Data[4..(4 + r.Data[3])];
        Assert.Contains((byte)0x00, pages);
        Assert.Contains((byte)0x80, pages);
        Assert.Contains((byte)0x83, pages);
        Assert.Equal(pages.Order().ToArray(), pages);

        r = await h.ExecAsync(Cdbs.Inquiry(255, true, 0x80), 255);
        r.AssertGood();
        Assert.Equal(0x80, r.Data[1]);
        Assert.Equal("SN0001", Encoding.ASCII.GetString(r.Data, 4, r.Data[3]));
    }

    private static List<(int CodeSet, int Association, int Type, byte[] Value)> Designators(byte[] page)
    {
        var list = new List<(int, int, int, byte[])>();
        int end = 4 + ((page[2] << 8) | page[3]);
        for (int i = 4; i < end; i += 4 + page[i + 3])
            list.Add((page[i] & 0x0F, (page[i + 1] >> 4) & 3, page[i + 1] & 0x0F, page[(i + 4)..(i + 4 + page[i + 3])]));
        return list;
    }

    [Fact]
    public async Task Device_identification_has_naa_t10_and_target_port_designators()
    {
        var (h, _) = await DiskHarness.SingleAsync();
        await using var _h = h;
        var nexus = new InitiatorNexus("iqn.2024-01.test:init,i,0x1", "iqn.2024-01.test:target,t,0x1", relativeTargetPortId: 7);
        var r = await h.ExecAsync(Cdbs.Inquiry(512, true, 0x83), 512, nexus: nexus);
        r.AssertGood();
        var ds = Designators(r.Data);
        var naa = Assert.Single(ds, d => d.Type == 3);
        Assert.Equal((1, 0), (naa.CodeSet, naa.Association));
        Assert.Equal(8, naa.Value.Length);
        Assert.Equal(3, naa.Value[0] >> 4);
        var t10 = Assert.Single(ds, d => d.Type == 1);
        Assert.Equal("StorShrpSN0001", Encoding.ASCII.GetString(t10.Value));
        var rel = Assert.Single(ds, d => d.Type == 4);
        Assert.Equal(1, rel.Association);
        Assert.Equal([0, 0, 0, 7], rel.Value);
        var name = Assert.Single(ds, d => d.Type == 8);
        Assert.Equal(0, name.Value.Length % 4);
        Assert.StartsWith("iqn.2024-01.test:target,t,0x1\0", Encoding.UTF8.GetString(name.Value));
    }

    [Fact]
    public async Task Two_adapters_on_the_same_definition_report_the_same_lu_identity()
    {
        var def = new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), new TestBlockDevice(16)) { SerialNumber = "MP-1" };
        await using var a = await DiskHarness.CreateAsync(def);
        await using var b = await DiskHarness.CreateAsync(def);
        var ra = await a.ExecAsync(Cdbs.Inquiry(512, true, 0x83), 512, nexus: new InitiatorNexus("i", "port-a", 1));
        var rb = await b.ExecAsync(Cdbs.Inquiry(512, true, 0x83), 512, nexus: new InitiatorNexus("i", "port-b", 2));
        Assert.Equal(Designators(ra.Data).Single(d => d.Type == 3).Value, Designators(rb.Data).Single(d => d.Type == 3).Value);
        var other = new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), new TestBlockDevice(16)) { SerialNumber = "MP-2" };
        await using var c = await DiskHarness.CreateAsync(other);
        var rc = await c.ExecAsync(Cdbs.Inquiry(512, true, 0x83), 512);
        Assert.NotEqual(Designators(ra.Data).Single(d => d.Type == 3).Value, Designators(rc.Data).Single(d => d.Type == 3).Value);
    }
}
