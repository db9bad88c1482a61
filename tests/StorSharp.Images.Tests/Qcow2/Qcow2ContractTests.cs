using StorSharp.Block;
using StorSharp.Block.Tests;
using StorSharp.Images.Qcow2;

namespace StorSharp.Images.Tests.Qcow2;

/// <summary>The block device contract over a new qcow2 image (no backing file).</summary>
public abstract class Qcow2ContractTests : BlockDeviceContractTests
{
    private readonly ImageDirectory _dir = new();

    protected abstract int ClusterSize { get; }

    protected override IBlockDevice CreateBackend()
    {
        string path = _dir.File("disk.qcow2");
        Qcow2Creator.CreateAsync(path, DeviceBytes, ClusterSize).AsTask().GetAwaiter().GetResult();
        return Qcow2Format.Instance.OpenAsync(path, new DiskImageOpenOptions { LogicalBlockSize = BlockSize }).AsTask().GetAwaiter().GetResult();
    }

    protected override void Cleanup() => _dir.Dispose();
}

public sealed class Qcow2Cluster64KContractTests : Qcow2ContractTests
{
    protected override int BlockSize => 512;
    protected override int ClusterSize => 65536;
}

public sealed class Qcow2Cluster4KBlock4KContractTests : Qcow2ContractTests
{
    protected override int BlockSize => 4096;
    protected override int ClusterSize => 4096;
}

public sealed class Qcow2Cluster512ContractTests : Qcow2ContractTests
{
    protected override int BlockSize => 512;
    protected override int ClusterSize => 512;
}
