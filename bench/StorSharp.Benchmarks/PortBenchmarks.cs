using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Benchmarks;

/// <summary>
/// One 4 KiB request submitted to the port and completed, per operation: through a miniport that
/// does nothing (the port's own cost) and through the SCSI disk miniport over a RAM disk (CDB
/// decode, range checks, the copy). The SRB and its buffer are reused, as a front end's pooled
/// request would be, so the allocation column shows what the request path itself allocates.
/// </summary>
[MemoryDiagnoser]
public class PortBenchmarks
{
    private const int Batch = 1024;
    private StoragePort _port = null!;
    private Adapter _null = null!;
    private Adapter _ram = null!;
    private Srb _nullRead = null!;
    private Srb _ramRead = null!;
    private Srb _ramWrite = null!;
    private readonly Counter _done = new();

    private sealed class Counter : ISrbCompletionHandler
    {
        public int Count;
        public void OnSrbCompleted(Srb srb) => Count++;
    }

    [GlobalSetup]
    public async Task Setup()
    {
        _port = new StoragePort();
        _null = await _port.AddAdapterAsync(new VirtualMiniportRegistration { Name = "Null", CreateMiniport = () => new NullMiniport() });
        var disk = new RamBlockDevice(64L << 20, 512);
        await disk.WriteAsync(0, new byte[1 << 20]); // allocate the chunks the benchmark touches
        _ram = await _port.AddAdapterAsync(ScsiDiskMiniport.CreateRegistration([new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), new CheckedBlockDevice(disk))]));
        _nullRead = Make(0x88, DataDirection.In);
        _ramRead = Make(0x88, DataDirection.In);
        _ramWrite = Make(0x8A, DataDirection.Out);
    }

    private Srb Make(byte opcode, DataDirection direction)
    {
        var srb = SrbPool.Shared.Rent();
        var cdb = srb.InitCdb(16);
        cdb[0] = opcode; // READ(16) / WRITE(16)
        BinaryPrimitives.WriteUInt64BigEndian(cdb[2..], 8);
        BinaryPrimitives.WriteUInt32BigEndian(cdb[10..], 8); // 8 blocks of 512 bytes
        srb.Direction = direction;
        srb.Data.Rent(4096);
        srb.CompletionHandler = _done;
        return srb;
    }

    private int Run(Adapter adapter, Srb srb)
    {
        for (int i = 0; i < Batch; i++)
        {
            srb.DataTransferLength = 4096;
            adapter.Submit(srb);
        }
        return _done.Count;
    }

    /// <summary>Submit to completion through the port with a null miniport.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int NullMiniport4K() => Run(_null, _nullRead);

    /// <summary>A 4 KiB READ(16) through the port and the SCSI disk miniport over a RAM disk.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int RamDiskRead4K() => Run(_ram, _ramRead);

    /// <summary>A 4 KiB WRITE(16) through the port and the SCSI disk miniport over a RAM disk.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int RamDiskWrite4K() => Run(_ram, _ramWrite);

    [GlobalCleanup]
    public async Task Cleanup() => await _port.DisposeAsync();
}
