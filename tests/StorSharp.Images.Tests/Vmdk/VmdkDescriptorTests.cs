using StorSharp.Images.Vmdk;

namespace StorSharp.Images.Tests.Vmdk;

public sealed class VmdkDescriptorTests
{
    [Fact]
    public void Parses_create_type_extents_and_parent()
    {
        const string text = """
            # Disk DescriptorFile
            version=1
            CID=12345678
            parentCID=abcdef01
            createType="twoGbMaxExtentFlat"
            parentFileNameHint="base image.vmdk"

            # Extent description
            RW 4192256 FLAT "disk-f001.vmdk" 0
            RDONLY 2048 FLAT "my disk-f002.vmdk" 128
            RW 1024 ZERO
            RW 8192 SPARSE "disk-s003.vmdk"

            ddb.virtualHWVersion = "4"
            """;
        var d = VmdkDescriptor.TryParse(text, out string error);
        Assert.True(d is not null, error);
        Assert.Equal("twoGbMaxExtentFlat", d.CreateType);
        Assert.True(d.HasParent);
        Assert.Equal("base image.vmdk", d.ParentFileNameHint);
        Assert.Equal(
            [
                new VmdkExtentLine(VmdkAccess.ReadWrite, 4192256, VmdkExtentType.Flat, "disk-f001.vmdk", 0),
                new VmdkExtentLine(VmdkAccess.ReadOnly, 2048, VmdkExtentType.Flat, "my disk-f002.vmdk", 128),
                new VmdkExtentLine(VmdkAccess.ReadWrite, 1024, VmdkExtentType.Zero, null, 0),
                new VmdkExtentLine(VmdkAccess.ReadWrite, 8192, VmdkExtentType.Sparse, "disk-s003.vmdk", 0),
            ], d.Extents);
    }

    [Fact]
    public void A_parent_CID_of_ffffffff_means_no_parent()
    {
        var d = VmdkDescriptor.TryParse("createType=\"monolithicSparse\"\nparentCID=ffffffff\nRW 100 SPARSE \"x.vmdk\"\n", out _);
        Assert.False(d!.HasParent);
    }

    [Theory]
    [InlineData("RW 100 FLAT \"x.vmdk\" 0\n", "no createType")]
    [InlineData("createType=\"monolithicFlat\"\n", "no extents")]
    [InlineData("createType=\"vmfs\"\nRW 100 VMFSSPARSE \"x.vmdk\"\n", "VMFSSPARSE is not supported")]
    [InlineData("createType=\"monolithicFlat\"\nRW -5 FLAT \"x.vmdk\" 0\n", "not a sector count")]
    [InlineData("createType=\"monolithicFlat\"\nRW 100 FLAT \"x.vmdk 0\n", "unterminated")]
    [InlineData("createType=\"monolithicFlat\"\nRW 100 FLAT\n", "no file name")]
    [InlineData("createType=\"monolithicFlat\"\nthis is not a descriptor\n", "line 2")]
    public void Malformed_descriptors_are_refused_with_the_line(string text, string expected)
    {
        Assert.Null(VmdkDescriptor.TryParse(text, out string error));
        Assert.Contains(expected, error);
    }
}
