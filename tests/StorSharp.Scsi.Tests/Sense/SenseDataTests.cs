namespace StorSharp.Scsi.Tests;

public class SenseDataTests
{
    [Fact]
    public void Fixed_format_with_field_pointer_is_byte_exact()
    {
        Span<byte> buffer = stackalloc byte[SenseData.MaxLength];
        int n = SenseData.WriteFixed(buffer, SenseCodes.InvalidFieldInCdb, SenseKeySpecific.Cdb(2, 5));
        Assert.Equal(18, n);
        byte[] expected = [0x70, 0, 0x05, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0x24, 0x00, 0, 0xC8 | 5, 0x00, 0x02];
        Assert.Equal(expected, buffer[..n].ToArray());
    }

    [Fact]
    public void Fixed_format_information_sets_valid_bit()
    {
        Span<byte> buffer = stackalloc byte[SenseData.MaxLength];
        SenseData.WriteFixed(buffer, SenseCodes.MiscompareDuringVerify, information: 0x01020304);
        Assert.Equal(0xF0, buffer[0]);
        Assert.Equal([1, 2, 3, 4], buffer[3..7].ToArray());
        Assert.Equal(0x0E, buffer[2]);
        Assert.Equal(0, buffer[15]); // no SKSV
    }

    [Fact]
    public void Parameter_list_pointer_clears_cd_bit_and_whole_byte_clears_bpv()
    {
        var sks = SenseKeySpecific.Parameter(0x123);
        Span<byte> b = stackalloc byte[3];
        sks.WriteTo(b);
        Assert.Equal([0x80, 0x01, 0x23], b.ToArray());
        Assert.False(sks.IsInCdb);
        Assert.Equal(-1, sks.BitPointer);
    }

    [Fact]
    public void Descriptor_format_carries_information_and_sense_key_specific_descriptors()
    {
        Span<byte> buffer = stackalloc byte[SenseData.MaxLength];
        int n = SenseData.WriteDescriptor(buffer, SenseCodes.LbaOutOfRange, SenseKeySpecific.Cdb(2), 0x1122334455667788);
        Assert.Equal(8 + 12 + 8, n);
        Assert.Equal(0x72, buffer[0]);
        Assert.Equal(0x05, buffer[1]);
        Assert.Equal(0x21, buffer[2]);
        Assert.Equal(n - 8, buffer[7]);
        Assert.Equal([0x00, 0x0A, 0x80, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88], buffer[8..20].ToArray());
        Assert.Equal([0x02, 0x06, 0, 0, 0xC0, 0x00, 0x02, 0], buffer[20..28].ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_round_trips_both_formats(bool descriptor)
    {
        Span<byte> buffer = stackalloc byte[SenseData.MaxLength];
        int n = SenseData.Write(buffer, descriptor, SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(7, 3), 99);
        Assert.True(SenseData.TryParse(buffer[..n], out var info));
        Assert.Equal(SenseCodes.InvalidFieldInParameterList, info.Code);
        Assert.Equal(descriptor, info.Descriptor);
        Assert.True(info.InformationValid);
        Assert.Equal(99ul, info.Information);
        Assert.Equal(SenseKeySpecific.Parameter(7, 3), info.Specific);
    }

    [Fact]
    public void Parse_rejects_unknown_response_codes_and_short_buffers()
    {
        Assert.False(SenseData.TryParse(new byte[4], out _));
        Assert.False(SenseData.TryParse(new byte[18] { 0x7F, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, out _));
    }

    [Fact]
    public void Catalogue_has_the_standard_triples()
    {
        Assert.Equal(new SenseCode(SenseKey.IllegalRequest, 0x20, 0x00), SenseCodes.InvalidCommandOperationCode);
        Assert.Equal(new SenseCode(SenseKey.IllegalRequest, 0x1A, 0x00), SenseCodes.ParameterListLengthError);
        Assert.Equal(new SenseCode(SenseKey.UnitAttention, 0x3F, 0x0E), SenseCodes.ReportedLunsDataHasChanged);
        Assert.Equal(new SenseCode(SenseKey.UnitAttention, 0x2A, 0x05), SenseCodes.RegistrationsPreempted);
        Assert.Equal(new SenseCode(SenseKey.DataProtect, 0x27, 0x07), SenseCodes.SpaceAllocationFailedWriteProtect);
        Assert.Equal(new SenseCode(SenseKey.NotReady, 0x3A, 0x00), SenseCodes.MediumNotPresent);
        Assert.Equal(new SenseCode(SenseKey.IllegalRequest, 0x39, 0x00), SenseCodes.SavingParametersNotSupported);
    }
}
