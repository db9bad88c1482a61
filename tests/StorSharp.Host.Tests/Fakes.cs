using System.Net;
using System.Net.Sockets;
using StorSharp.Block;
using StorSharp.Host.Configuration;
using StorSharp.Port;

namespace StorSharp.Host.Tests;

/// <summary>A block device that only knows its shape and records that it was flushed and closed.</summary>
internal sealed class FakeBlockDevice(LunSettings lun, List<string> journal) : IBlockDevice
{
    public LunSettings Lun { get; } = lun;
    public BlockGeometry Geometry { get; } = new(lun.BlockSize, (lun.SizeBytes ?? 1 << 20) / lun.BlockSize);
    public BlockDeviceCapabilities Capabilities => BlockDeviceCapabilities.Flush;
    public ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) => default;
    public ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default) => default;
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) { lock (journal) journal.Add($"flush {Lun.Number}"); return default; }
    public ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default) => default;
    public ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default) => default;
    public ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default) => ValueTask.FromResult(0);
    public ValueTask DisposeAsync() { lock (journal) journal.Add($"close {Lun.Number}"); return default; }
}

/// <summary>A miniport with no devices: every request completes with NoDevice, so enumeration finds nothing.</summary>
internal sealed class EmptyMiniport(List<string> journal) : IVirtualMiniport
{
    private IPortServices? _port;

    public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments)
    {
        _port = port;
        return FindAdapterResult.Found;
    }

    public bool Initialize() => true;

    public bool StartIo(Srb srb)
    {
        srb.Status = SrbStatus.NoDevice;
        _port!.CompleteRequest(srb);
        return true;
    }

    public bool ResetBus(byte pathId) => true;

    public ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported)
    {
        if (type == AdapterControlType.QuerySupportedControlTypes) supported.Add(AdapterControlType.StopAdapter);
        if (type == AdapterControlType.StopAdapter) lock (journal) journal.Add("stop adapter");
        return ControlStatus.Success;
    }

    public void FreeAdapterResources() { }
}

/// <summary>A front end that listens on real sockets (so port clashes are real) and serves nothing.</summary>
internal sealed class FakeFrontEnd(string protocol, IReadOnlyList<IPEndPoint> addresses, List<string> journal) : INbdFrontEnd
{
    private readonly List<Socket> _listeners = [];

    public string Protocol { get; } = protocol;

    public IReadOnlyList<IPEndPoint> LocalEndpoints => [.. _listeners.Select(l => (IPEndPoint)l.LocalEndPoint!)];

    public int SessionCount => 0; // it accepts no one

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(address);
                socket.Listen();
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            _listeners.Add(socket);
        }
        lock (journal) journal.Add($"start {Protocol}");
        return Task.CompletedTask;
    }

    public async Task ServeConnectionAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16];
        var n = await stream.ReadAsync(buffer, cancellationToken);
        await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
    }

    public Task AdoptListenerAsync(Socket listener, CancellationToken cancellationToken)
    {
        _listeners.Add(listener);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        foreach (var l in _listeners) l.Dispose();
        lock (journal) journal.Add($"stop {Protocol}");
        return default;
    }
}

/// <summary>Fake components that write what happens, in order, to <see cref="Journal"/>.</summary>
internal sealed class FakeComponents
{
    public List<string> Journal { get; } = [];
    public List<ComposedLun> Luns { get; } = [];
    public NbdFrontEndSpec? Nbd { get; private set; }
    public IscsiFrontEndSpec? Iscsi { get; private set; }

    public HostComponents Build() => new()
    {
        OpenBlockDevice = (lun, _) => ValueTask.FromResult<IBlockDevice>(new FakeBlockDevice(lun, Journal)),
        CreateMiniport = (_, luns) =>
        {
            Luns.AddRange(luns);
            return new VirtualMiniportRegistration { Name = "Fake", CreateMiniport = () => new EmptyMiniport(Journal) };
        },
        CreateIscsi = spec =>
        {
            Iscsi = spec;
            return new FakeFrontEnd("iSCSI", spec.Portals, Journal);
        },
        CreateNbd = spec =>
        {
            Nbd = spec;
            return new FakeFrontEnd("NBD", spec.Listen is null ? [] : [spec.Listen], Journal);
        },
    };

    public static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
