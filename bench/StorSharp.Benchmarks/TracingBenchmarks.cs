using System.Buffers.Binary;
using System.Diagnostics.Tracing;
using BenchmarkDotNet.Attributes;
using StorSharp.Block;
using StorSharp.Diagnostics.Tracing;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Benchmarks;

/// <summary>
/// The cost of diagnostics on the request path: a 4 KiB READ(16) marked received and answered the
/// way a front end does, through the null miniport (the port alone) and the SCSI disk miniport over
/// a RAM disk, with tracing off, with an in-process EventListener on the StorSharp-Port provider
/// (IO keyword, verbose: what dotnet-trace turns on), and with the trace recorder of
/// <c>serve --trace</c>. Off must allocate nothing.
/// </summary>
/// <remarks><c>dotnet run -c Release --project bench/StorSharp.Benchmarks -- --filter '*Tracing*'</c></remarks>
[MemoryDiagnoser]
public class TracingBenchmarks
{
    /// <summary>What observes the requests.</summary>
    public enum TracingMode
    {
        /// <summary>Nothing: stamps and the 505 counters only.</summary>
        Off,
        /// <summary>An EventListener with the IO keyword at Verbose.</summary>
        EventListener,
        /// <summary>The binary trace recorder.</summary>
        Recorder,
    }

    private const int Batch = 1024;
    private StoragePort _port = null!;
    private Adapter _null = null!;
    private Adapter _ram = null!;
    private Srb _nullRead = null!;
    private Srb _ramRead = null!;
    private FrontEnd _done = null!;
    private Listener? _listener;
    private TraceRecorder? _recorder;
    private string? _traceFile;

    /// <summary>The observer.</summary>
    [Params(TracingMode.Off, TracingMode.EventListener, TracingMode.Recorder)]
    public TracingMode Mode { get; set; }

    private sealed class FrontEnd : ISrbCompletionHandler
    {
        public int Count;
        public void OnSrbCompleted(Srb srb)
        {
            Count++;
            srb.Unit().MarkReplySent(srb);
        }
    }

    private sealed class Listener : EventListener
    {
        public long Events;
        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "StorSharp-Port") EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, PortEventSource.Keywords.IO);
        }
        protected override void OnEventWritten(EventWrittenEventArgs e) => Events++;
    }

    [GlobalSetup]
    public async Task Setup()
    {
        _port = new StoragePort(new PortOptions { PerformanceSummaryInterval = TimeSpan.Zero });
        _null = await _port.AddAdapterAsync(new VirtualMiniportRegistration { Name = "Null", CreateMiniport = () => new NullMiniport() });
        var disk = new RamBlockDevice(64L << 20, 512);
        await disk.WriteAsync(0, new byte[1 << 20]);
        _ram = await _port.AddAdapterAsync(ScsiDiskMiniport.CreateRegistration([new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), new CheckedBlockDevice(disk))]));
        _done = new FrontEnd();
        _nullRead = Make(_null);
        _ramRead = Make(_ram);
        switch (Mode)
        {
            case TracingMode.EventListener: _listener = new Listener(); break;
            case TracingMode.Recorder:
                _traceFile = Path.Combine(Path.GetTempPath(), $"storsharp-bench-{Environment.ProcessId}.sstrace");
                _recorder = new TraceRecorder(_port, _traceFile, new TraceRecorderOptions { MaxBytes = 64L << 30 });
                break;
        }
    }

    private Srb Make(Adapter adapter)
    {
        var srb = SrbPool.Shared.Rent();
        var cdb = srb.InitCdb(16);
        cdb[0] = 0x88; // READ(16)
        BinaryPrimitives.WriteUInt64BigEndian(cdb[2..], 8);
        BinaryPrimitives.WriteUInt32BigEndian(cdb[10..], 8);
        srb.Direction = DataDirection.In;
        srb.Data.Rent(4096);
        srb.CompletionHandler = _done;
        srb.MiniportContext = null;
        srb.OriginalRequest = adapter;
        return srb;
    }

    private int Run(Adapter adapter, Srb srb)
    {
        for (int i = 0; i < Batch; i++)
        {
            srb.DataTransferLength = 4096;
            adapter.MarkReceived(srb);
            adapter.Submit(srb);
        }
        return _done.Count;
    }

    /// <summary>A request through the port and the null miniport, received and answered.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int NullMiniport4K() => Run(_null, _nullRead);

    /// <summary>A 4 KiB READ(16) through the port and the SCSI disk miniport over a RAM disk, received and answered.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int RamDiskRead4K() => Run(_ram, _ramRead);

    [GlobalCleanup]
    public async Task Cleanup()
    {
        if (_recorder is not null) await _recorder.DisposeAsync();
        _listener?.Dispose();
        await _port.DisposeAsync();
        if (_traceFile is not null) File.Delete(_traceFile);
    }
}

internal static class SrbAdapter
{
    /// <summary>The adapter a benchmark SRB is submitted to (kept in OriginalRequest).</summary>
    public static Adapter Unit(this Srb srb) => (Adapter)srb.OriginalRequest!;
}
