namespace StorSharp.Block.Tests;

public sealed class Ram512ContractTests : BlockDeviceContractTests
{
    protected override int BlockSize => 512;

    protected override IBlockDevice CreateBackend() => new RamBlockDevice(DeviceBytes, BlockSize);
}
