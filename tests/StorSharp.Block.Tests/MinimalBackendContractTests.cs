namespace StorSharp.Block.Tests;

/// <summary>
/// The contract over a backend that only reads and writes: everything else must be emulated by
/// <see cref="CheckedBlockDevice"/> (the minimal backend throws if anything else reaches it).
/// </summary>
public sealed class MinimalBackendContractTests : BlockDeviceContractTests
{
    protected override int BlockSize => 512;

    protected override IBlockDevice CreateBackend() => new MinimalBlockDevice(DeviceBytes / BlockSize, BlockSize);
}
