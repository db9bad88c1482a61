namespace StorSharp.Scsi.Tests;

public class BlockCdbTests
{
    [Fact]
    public void Read6_has_21_bit_lba_and_zero_means_256()
    {
        Assert.True(BlockCdb.TryRead([0x08, 0xFF, 0x34, 0x56, 0x00, 0x00], out var c));
        Assert.Equal(0x1F3456ul, c.Lba);
        Assert.Equal(256u, c.TransferLength);
    }

    [Fact]
    public void Read10_fields_and_flags()
    {
        Assert.True(BlockCdb.TryRead([0x28, 0x18 | 0x40, 0x01, 0x02, 0x03, 0x04, 0x05, 0x12, 0x34, 0x00], out var c));
        Assert.Equal(0x01020304ul, c.Lba);
        Assert.Equal(0x1234u, c.TransferLength);
        Assert.True(c.Fua);
        Assert.True(c.Dpo);
        Assert.Equal(2, c.Protect);
        Assert.Equal(5, c.Group);
    }

    [Fact]
    public void Read12_and_16_fields()
    {
        Assert.True(BlockCdb.TryRead([0xA8, 0x08, 0, 0, 1, 0, 0x00, 0x01, 0x00, 0x00, 0, 0], out var c12));
        Assert.Equal(256ul, c12.Lba);
        Assert.Equal(65536u, c12.TransferLength);
        Assert.True(c12.Fua);
        Assert.True(BlockCdb.TryRead(Cdbs.Read16(0x0102030405060708, 0x0A0B0C0D, 0x10), out var c16));
        Assert.Equal(0x0102030405060708ul, c16.Lba);
        Assert.Equal(0x0A0B0C0Du, c16.TransferLength);
        Assert.True(c16.Dpo);
        Assert.False(c16.Fua);
    }

    [Fact]
    public void Short_cdb_is_refused()
    {
        Assert.False(BlockCdb.TryRead([0x28, 0, 0, 0, 0, 0], out _));
        Assert.False(BlockCdb.TryRead([], out _));
    }

    [Theory]
    [InlineData(0ul, 0ul, 100ul, true)]
    [InlineData(100ul, 0ul, 100ul, true)]
    [InlineData(101ul, 0ul, 100ul, false)]
    [InlineData(99ul, 1ul, 100ul, true)]
    [InlineData(99ul, 2ul, 100ul, false)]
    [InlineData(ulong.MaxValue, 1ul, 100ul, false)]
    [InlineData(1ul, ulong.MaxValue, 100ul, false)]
    [InlineData(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, false)]
    public void Range_check_cannot_overflow(ulong lba, ulong blocks, ulong capacity, bool inside) =>
        Assert.Equal(inside, BlockCdb.IsInRange(lba, blocks, capacity));
}
