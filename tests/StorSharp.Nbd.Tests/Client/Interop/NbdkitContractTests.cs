using StorSharp.Block;
using StorSharp.Block.Tests;
using StorSharp.Nbd.Client;
using StorSharp.Nbd.Tests.Client.Support;
using StorSharp.Nbd.Tests.Support;

namespace StorSharp.Nbd.Tests.Client.Interop;

/// <summary>
/// The IBlockDevice contract every local backend passes, run against the NBD backend fronting a
/// real <c>nbdkit memory</c> export (one fresh nbdkit per test, on a Unix socket).
/// </summary>
public abstract class NbdkitContractTests : BlockDeviceContractTests
{
    private readonly TempDir _dir = new();
    private ExternalNbdServer? _server;

    protected override IBlockDevice CreateBackend()
    {
        _server = ExternalNbdServer.NbdkitAsync(_dir.Path, tcp: false, "memory", $"{DeviceBytes}").GetAwaiter().GetResult();
        return NbdBlockDevice.ConnectAsync(new NbdClientOptions { Address = _server.Address, BlockSize = BlockSize }).GetAwaiter().GetResult();
    }

    protected override void Cleanup()
    {
        _server?.KillAsync().GetAwaiter().GetResult();
        _dir.Dispose();
    }
}

public sealed class Nbdkit512ContractTests : NbdkitContractTests
{
    protected override int BlockSize => 512;
}

public sealed class Nbdkit4096ContractTests : NbdkitContractTests
{
    protected override int BlockSize => 4096;
}
