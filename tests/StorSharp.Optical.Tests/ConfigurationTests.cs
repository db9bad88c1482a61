using System.Buffers.Binary;
using StorSharp.Scsi;

namespace StorSharp.Optical.Tests;

public class ConfigurationTests
{
    private static List<(ushort Code, byte Flags, byte[] Data)> Features(ScsiResult r)
    {
        var list = new List<(ushort, byte, byte[])>();
        int end = (int)r.U32(0) + 4;
        Assert.Equal(r.Data.Length, end);
        for (int o = 8; o < end;)
        {
            int len = r.Data[o + 3];
            list.Add((BinaryPrimitives.ReadUInt16BigEndian(r.Data.AsSpan(o)), r.Data[o + 2], r.Data[(o + 4)..(o + 4 + len)]));
            o += 4 + len;
        }
        return list;
    }

    [Fact]
    public async Task Rt0_lists_every_feature_with_the_current_profile()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 64, profile: MmcProfile.DvdRom);
        var r = (await h.ExecAsync(Mmc.GetConfiguration(0), 1024)).AssertGood();
        Assert.Equal(0x0010, r.U16(6));
        var f = Features(r);
        Assert.Equal(new ushort[] { 0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001E, 0x001F, 0x0100, 0x0107 }, f.Select(x => x.Code).ToArray());
        var profiles = f[0].Data;
        Assert.Equal(new byte[] { 0x00, 0x10, 0x01, 0x00, 0x00, 0x08, 0x00, 0x00 }, profiles); // DVD-ROM current, CD-ROM not
        Assert.Equal(0, f.Single(x => x.Code == 0x001E).Flags & 1);  // CD Read not current
        Assert.Equal(1, f.Single(x => x.Code == 0x001F).Flags & 1);  // DVD Read current
        var random = f.Single(x => x.Code == 0x0010).Data;
        Assert.Equal(2048u, BinaryPrimitives.ReadUInt32BigEndian(random));
        Assert.Equal(16, BinaryPrimitives.ReadUInt16BigEndian(random.AsSpan(4)));
    }

    [Fact]
    public async Task Small_image_is_a_cd_rom()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: 64);
        var r = (await h.ExecAsync(Mmc.GetConfiguration(1), 1024)).AssertGood();
        Assert.Equal(0x0008, r.U16(6));
        var codes = Features(r).Select(x => x.Code).ToArray();
        Assert.Contains((ushort)0x001E, codes);
        Assert.DoesNotContain((ushort)0x001F, codes);
    }

    [Fact]
    public async Task Rt1_without_a_disc_has_no_profile_and_no_media_features()
    {
        await using var h = await OpticalHarness.CreateAsync(sectors: null);
        var r = (await h.ExecAsync(Mmc.GetConfiguration(1), 1024)).AssertGood();
        Assert.Equal(0, r.U16(6));
        Assert.Equal(new ushort[] { 0x0000, 0x0001, 0x0002, 0x0003, 0x0100, 0x0107 }, Features(r).Select(x => x.Code).ToArray());
    }

    [Fact]
    public async Task Rt2_returns_exactly_the_feature_asked_for_or_none()
    {
        await using var h = await OpticalHarness.CreateAsync();
        var r = (await h.ExecAsync(Mmc.GetConfiguration(2, 0x0003), 1024)).AssertGood();
        var f = Assert.Single(Features(r));
        Assert.Equal(0x0003, f.Code);
        Assert.Equal(0x20, f.Data[0] & 0xE0);   // tray
        Assert.Equal(0x19, f.Data[0] & 0x1F);   // Load, Eject, Lock
        var none = (await h.ExecAsync(Mmc.GetConfiguration(2, 0x0028), 1024)).AssertGood(); // MRW: not a feature here
        Assert.Empty(Features(none));
        Assert.Equal(0x0008, none.U16(6));
        var header = (await h.ExecAsync(Mmc.GetConfiguration(0, 0, 8), 8)).AssertGood();
        Assert.Equal(8, header.Data.Length);
    }

    [Fact]
    public async Task Rt3_is_invalid_field_and_get_configuration_passes_a_unit_attention()
    {
        await using var h = await OpticalHarness.CreateAsync();
        (await h.ExecAsync(Mmc.GetConfiguration(3), 1024)).AssertInvalidField(1, 1);
        var n = new Port.InitiatorNexus("fresh", "t");
        (await h.ExecAsync(Mmc.GetConfiguration(0, 0, 8), 8, nexus: n)).AssertGood();
        (await h.ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.PowerOnReset);
    }
}
