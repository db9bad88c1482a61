namespace StorSharp.Block.Tests;

public sealed class File512ContractTests : BlockDeviceContractTests
{
    private readonly TempDirectory _directory = new();

    protected override int BlockSize => 512;

    protected override IBlockDevice CreateBackend() => FileBlockDevice.Create(_directory.File("disk.img"), DeviceBytes, BlockSize);

    protected override void Cleanup() => _directory.Dispose();
}
