using System.Net;
using StorSharp.Block;
using StorSharp.Class;
using StorSharp.Nbd;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Samples;

/// <summary>Puts a <see cref="DictionaryStorageUnit"/> behind the SCSI disk miniport on a port.</summary>
public static class SampleHost
{
    public static readonly ScsiAddress Lun0 = new(0, 0, 0);

    /// <summary>Registers the SCSI disk miniport with the unit as LUN 0 and starts the adapter (FindAdapter, Initialize, enumeration).</summary>
    public static Task<Adapter> AddUnitAsync(StoragePort port, IBlockDevice unit) =>
        port.AddAdapterAsync(ScsiDiskMiniport.CreateRegistration(
            [new ScsiDiskDefinition(Lun0, new CheckedBlockDevice(unit)) { ProductId = "Dictionary Unit" }]));

    /// <summary>Serves LUN 0 of <paramref name="adapter"/> as NBD export <c>unit</c>.</summary>
    public static async Task<NbdServer> ServeNbdAsync(Adapter adapter, IPEndPoint endpoint)
    {
        var server = new NbdServer(new NbdServerOptions { Endpoint = endpoint, Exports = [new NbdExport("unit", adapter, Lun0)] });
        await server.StartAsync(CancellationToken.None);
        return server;
    }

    /// <summary>Opens LUN 0 through the port as a block device (the in-process API).</summary>
    public static Task<LunBlockDevice> OpenAsync(Adapter adapter) => LunBlockDevice.OpenAsync(adapter, Lun0);
}
