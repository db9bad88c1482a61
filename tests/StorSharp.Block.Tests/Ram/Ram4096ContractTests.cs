namespace StorSharp.Block.Tests;

public sealed class Ram4096ContractTests : BlockDeviceContractTests
{
    protected override int BlockSize => 4096;

    protected override IBlockDevice CreateBackend() => new RamBlockDevice(DeviceBytes, BlockSize);
}
