using StorSharp.Block;
using StorSharp.Block.Tests;

namespace StorSharp.Images.Tests.Mapped;

/// <summary>
/// The IBlockDevice contract suite of StorSharp.Block.Tests over each image device, freshly made by qemu-img
/// (8 MiB, never written). The device under test is the format's own device, under the suite's checking layer.
/// </summary>
public abstract class ImageContractTests : BlockDeviceContractTests
{
    private readonly ImageDirectory _dir = new();

    protected abstract string QemuFormat { get; }

    protected abstract string QemuOptions { get; }

    protected override int BlockSize => 512;

    protected override IBlockDevice CreateBackend()
    {
        string path = _dir.File("contract." + QemuFormat);
        QemuTools.Run("qemu-img", "create", "-q", "-f", QemuFormat, "-o", QemuOptions, path, DeviceBytes.ToString());
        var device = DiskImage.OpenAsync(path, new DiskImageOpenOptions { LogicalBlockSize = BlockSize }).AsTask().GetAwaiter().GetResult();
        return ((CheckedBlockDevice)device).Inner;
    }

    protected override void Cleanup() => _dir.Dispose();
}

public sealed class DynamicVhdContractTests : ImageContractTests
{
    protected override string QemuFormat => "vpc";
    protected override string QemuOptions => "subformat=dynamic,force_size=on";
}

public sealed class FixedVhdContractTests : ImageContractTests
{
    protected override string QemuFormat => "vpc";
    protected override string QemuOptions => "subformat=fixed,force_size=on";
}

public sealed class DynamicVhdxContractTests : ImageContractTests
{
    protected override string QemuFormat => "vhdx";
    protected override string QemuOptions => "subformat=dynamic,block_size=1M,block_state_zero=off";
}

public sealed class Dynamic4096VhdxContractTests : ImageContractTests
{
    protected override string QemuFormat => "vhdx";
    protected override string QemuOptions => "subformat=dynamic";
    protected override int BlockSize => 4096;
}

public sealed class SparseVmdkContractTests : ImageContractTests
{
    protected override string QemuFormat => "vmdk";
    protected override string QemuOptions => "subformat=monolithicSparse";
}

public sealed class FlatVmdkContractTests : ImageContractTests
{
    protected override string QemuFormat => "vmdk";
    protected override string QemuOptions => "subformat=twoGbMaxExtentFlat";
}
