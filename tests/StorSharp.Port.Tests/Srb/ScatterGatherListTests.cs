using StorSharp.Port;

namespace StorSharp.Port.Tests.SrbTests;

public class ScatterGatherListTests
{
    [Fact]
    public void Copies_cross_segment_boundaries_in_both_directions()
    {
        var list = new ScatterGatherList();
        list.Add(new byte[3]);
        list.Rent(5);
        list.Add(new byte[4]);
        Assert.Equal(3, list.Count);
        Assert.Equal(12, list.Length);
        var data = Enumerable.Range(1, 10).Select(i => (byte)i).ToArray();
        Assert.Equal(10, list.CopyFrom(1, data));
        var back = new byte[12];
        Assert.Equal(12, list.CopyTo(0, back));
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0 }, back);
        list.Clear(2, 3);
        list.CopyTo(0, back);
        Assert.Equal(new byte[] { 0, 1, 0, 0, 0, 5, 6, 7, 8, 9, 10, 0 }, back);
        Assert.Equal(2, list.CopyTo(10, new byte[5])); // stops at the end
        list.Reset();
        Assert.Equal(0, list.Count);
        Assert.Equal(0, list.Length);
    }

    [Fact]
    public void An_srb_rejects_cdbs_outside_6_to_32_bytes_and_truncates_sense_to_its_buffer()
    {
        var srb = new Srb();
        Assert.Throws<ArgumentException>(() => srb.SetCdb(new byte[5]));
        Assert.Throws<ArgumentException>(() => srb.SetCdb(new byte[33]));
        srb.SetCdb(new byte[32]);
        Assert.Equal(32, srb.CdbLength);
        srb.SenseInfoBufferLength = 18;
        srb.SetSenseData(new byte[40]);
        Assert.Equal(18, srb.SenseDataLength);
        Assert.True(srb.StatusFlags.HasFlag(SrbStatusFlags.AutosenseValid));
        srb.Status = SrbStatus.Error;
        Assert.Equal(0x84, srb.RawSrbStatus);
    }
}
