using StorSharp.Diagnostics.Tracing;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Tests;

/// <summary>The stamps, the 505 counters and the trace recorder allocate nothing per request.</summary>
public sealed class AllocationTests
{
    /// <summary>One LU; answers INQUIRY for enumeration and completes everything else inline.</summary>
    private sealed class InlineMiniport : IVirtualMiniport
    {
        private IPortServices _port = null!;

        public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments)
        {
            _port = port;
            configuration.NumberOfBuses = 1;
            configuration.MaximumNumberOfTargets = 1;
            configuration.MaximumNumberOfLogicalUnits = 1;
            return FindAdapterResult.Found;
        }

        public bool Initialize() => true;

        public bool StartIo(Srb srb)
        {
            if (srb.OperationCode == 0x12 && srb.Data.Count > 0) srb.Data[0].Span.Clear(); // a disk, qualifier 0
            if (srb.OperationCode == 0xA0 && srb.Data.Count > 0) { srb.Data[0].Span.Clear(); srb.Data[0].Span[3] = 8; } // LUN 0 only
            srb.MarkBackendDone();
            srb.Status = SrbStatus.Success;
            _port.CompleteRequest(srb);
            return true;
        }

        public bool ResetBus(byte pathId) => true;
        public ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported) => ControlStatus.Success;
        public void FreeAdapterResources() { }
    }

    private sealed class FrontEnd(Adapter adapter) : ISrbCompletionHandler
    {
        public int Count;
        public void OnSrbCompleted(Srb srb) { Count++; adapter.MarkReplySent(srb); }
    }

    private static long AllocatedPerRequest(Adapter adapter, Srb srb, FrontEnd frontEnd)
    {
        void Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                srb.DataTransferLength = 4096;
                adapter.MarkReceived(srb);
                adapter.Submit(srb);
            }
        }
        Run(2000); // warm up: JIT, tiering, pools
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000);
        return (GC.GetAllocatedBytesForCurrentThread() - before) / 10_000;
    }

    [Fact]
    public async Task A_request_allocates_nothing_with_tracing_off_nor_with_the_trace_recorder_on()
    {
        await using var port = new StoragePort(new PortOptions { PerformanceSummaryInterval = TimeSpan.Zero });
        var adapter = await port.AddAdapterAsync(new VirtualMiniportRegistration { Name = "Inline", CreateMiniport = () => new InlineMiniport() });
        var frontEnd = new FrontEnd(adapter);
        var srb = SrbPool.Shared.Rent();
        var cdb = srb.InitCdb(10);
        cdb[0] = 0x28;
        cdb[8] = 8;
        srb.Direction = DataDirection.In;
        srb.Data.Rent(4096);
        srb.CompletionHandler = frontEnd;

        Assert.Equal(0, AllocatedPerRequest(adapter, srb, frontEnd));
        var lu = Assert.Single(adapter.LogicalUnits);
        Assert.True(lu.Performance.TotalCompleted >= 12_000);

        string path = Path.Combine(Path.GetTempPath(), $"storsharp-alloc-{Guid.NewGuid():N}.sstrace");
        try
        {
            var recorder = new TraceRecorder(port, path, new TraceRecorderOptions { BufferBytes = 4 * 1024 * 1024 });
            Assert.Equal(0, AllocatedPerRequest(adapter, srb, frontEnd));
            await recorder.DisposeAsync();
            Assert.True(TraceReader.Read(path).Requests.Count + recorder.DroppedRequests >= 12_000);
        }
        finally { File.Delete(path); }
        Assert.True(frontEnd.Count >= 24_000);
    }
}
