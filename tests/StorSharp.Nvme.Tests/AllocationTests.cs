using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Nvme.Tests;

/// <summary>The hot path allocates nothing per request once its pools are warm.</summary>
public sealed class AllocationTests
{
    private const int Rounds = 3;

    /// <summary>
    /// The bytes this thread allocated in the cheapest of three rounds of 1000 requests. An
    /// allocation per request shows in every round; a one-off in the runtime (the shared array
    /// pool trimming its per-thread cache after a full GC caused by other tests, a tier-up) in one
    /// round at most.
    /// </summary>
    private static long LeastAllocatedOver1000(Action once)
    {
        long least = long.MaxValue;
        for (int round = 0; round < Rounds; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++) once();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }

    [Theory]
    [InlineData(false, "direct")]
    [InlineData(true, "direct")]
    [InlineData(false, "split")]
    [InlineData(true, "bounce")]
    public void Reads_and_writes_allocate_nothing_per_request(bool write, string path)
    {
        var miniport = new NvmeMiniport([new NvmeNamespaceDefinition(new ScsiAddress(0, 0, 0), new RamBlockDevice(1 << 20))]);
        var port = new RecordingPort(keep: false);
        miniport.FindAdapter(port, new PortConfiguration(), null);
        var srb = new Srb { Address = new ScsiAddress(0, 0, 0), Direction = write ? DataDirection.Out : DataDirection.In };
        srb.SetCdb(write ? Cdb.Write10(8, 16) : Cdb.Read10(8, 16));
        Segment[] layout = path switch
        {
            "direct" => [new(0, 8192)],
            "split" => [new(0, 512), new(0, 512), new(0, 7168)],
            _ => [new(0, 100), new(0, 8092)],
        };
        foreach (var s in layout) srb.Data.Add(new Memory<byte>(new byte[s.Offset + s.Length], s.Offset, s.Length));
        void Once()
        {
            srb.DataTransferLength = 8192;
            miniport.StartIo(srb);
        }
        for (int i = 0; i < 100; i++) Once();
        long allocated = LeastAllocatedOver1000(Once);
        Assert.Equal(100 + Rounds * 1000, port.CompletedCount);
        Assert.Equal(SrbStatus.Success, srb.Status);
        Assert.Equal(0, allocated);
        var stats = miniport.Statistics;
        Assert.Equal(100 + Rounds * 1000, path switch { "direct" => stats.Direct, "split" => stats.Split, _ => stats.Bounced });
    }

    [Theory]
    [InlineData("write same of a pattern")]
    [InlineData("compare and write")]
    [InlineData("verify")]
    [InlineData("compare")]
    [InlineData("write and verify")]
    public void The_translated_commands_allocate_nothing_per_request_from_a_remote_nexus(string kind)
    {
        var miniport = new NvmeMiniport([new NvmeNamespaceDefinition(new ScsiAddress(0, 0, 0), new RamBlockDevice(1 << 20))]);
        var port = new RecordingPort(keep: false);
        miniport.FindAdapter(port, new PortConfiguration(), null);
        var srb = new Srb { Address = new ScsiAddress(0, 0, 0), Nexus = new InitiatorNexus("iqn.test:a,i,0x1", "iqn.test:t") };
        byte[] verify = Cdb.Verify(10, 8, 16);
        byte[] compare = Cdb.Verify(16, 8, 16, bytchk: 1);
        byte[] writeVerify = Cdb.Verify(12, 8, 16, bytchk: 1);
        writeVerify[0] = 0xAE;
        var (cdb, dataLength) = kind switch
        {
            "write same of a pattern" => (Cdb.WriteSame10(8, 16), 512),
            "compare and write" => (Cdb.CompareAndWrite(8, 1), 1024),
            "verify" => (verify, 0),
            "compare" => (compare, 8192),
            _ => (writeVerify, 8192),
        };
        srb.SetCdb(cdb);
        srb.Direction = dataLength > 0 ? DataDirection.Out : DataDirection.None;
        var data = new byte[dataLength];
        data.AsSpan().Fill(kind == "write same of a pattern" ? (byte)0x5A : (byte)0); // zeros compare equal to the fresh disk
        if (dataLength > 0) srb.Data.Add(data);
        void Once()
        {
            srb.DataTransferLength = dataLength;
            miniport.StartIo(srb);
        }
        for (int i = 0; i < 100; i++) Once();
        long allocated = LeastAllocatedOver1000(Once);
        Assert.Equal(100 + Rounds * 1000, port.CompletedCount);
        Assert.Equal(ScsiStatus.Good, srb.ScsiStatus);
        Assert.Equal(0, allocated);
    }
}
