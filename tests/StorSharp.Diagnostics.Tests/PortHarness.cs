using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Diagnostics.Tests;

/// <summary>
/// A port with one adapter of a <see cref="TestMiniport"/>, on a manual clock, and a front end
/// that marks requests received and answered the way iSCSI does.
/// </summary>
internal sealed class PortHarness : IAsyncDisposable, ISrbCompletionHandler
{
    public ManualTimeProvider Clock { get; } = new();
    public StoragePort Port { get; }
    public TestMiniport Miniport { get; }
    public Adapter Adapter { get; private set; } = null!;
    public static readonly ScsiAddress Lu0 = new(0, 0, 0);
    public static readonly ScsiAddress Lu1 = new(0, 0, 1);
    private readonly List<(uint Tag, SrbStatus Status)> _answered = [];

    private readonly List<Srb> _unsent = [];

    /// <summary>When true, replies wait in a send queue until <see cref="SendReplies"/> (a slow wire).</summary>
    public bool DeferReplies { get; set; }

    private PortHarness(TestMiniport miniport, PortTunables? tunables, TimeSpan summaryInterval)
    {
        Miniport = miniport;
        Port = new StoragePort(new PortOptions
        {
            Time = Clock,
            Tunables = tunables ?? new PortTunables(),
            HeartbeatInterval = TimeSpan.FromMilliseconds(250),
            PerformanceSummaryInterval = summaryInterval,
        });
    }

    public static async Task<PortHarness> StartAsync(PortTunables? tunables = null, TimeSpan? summaryInterval = null, IEnumerable<ScsiAddress>? units = null)
    {
        var h = new PortHarness(new TestMiniport(units ?? [Lu0, Lu1]), tunables, summaryInterval ?? TimeSpan.Zero);
        h.Adapter = await h.Port.AddAdapterAsync(TestMiniport.Register(h.Miniport));
        return h;
    }

    public IReadOnlyList<(uint Tag, SrbStatus Status)> Answered { get { lock (_answered) return [.. _answered]; } }

    /// <summary>Builds a READ(10) or WRITE(10) of <paramref name="blocks"/> 512-byte blocks, as a front end would.</summary>
    public Srb Request(uint tag, bool write = false, ScsiAddress? address = null, int blocks = 8, byte? opcode = null)
    {
        var srb = SrbPool.Shared.Rent();
        var cdb = srb.InitCdb(10);
        cdb[0] = opcode ?? (write ? (byte)0x2A : (byte)0x28);
        cdb[8] = (byte)blocks;
        srb.Address = address ?? Lu0;
        srb.Direction = blocks == 0 ? DataDirection.None : write ? DataDirection.Out : DataDirection.In;
        if (blocks > 0) srb.Data.Rent(blocks * 512);
        srb.RequestId = tag;
        srb.QueueTag = tag;
        srb.TimeOutValue = 2;
        srb.CompletionHandler = this;
        return srb;
    }

    /// <summary>Marks the request received, then submits it.</summary>
    public void Receive(Srb srb)
    {
        Adapter.MarkReceived(srb);
        Adapter.Submit(srb);
    }

    public void OnSrbCompleted(Srb srb)
    {
        if (DeferReplies) { lock (_unsent) _unsent.Add(srb); return; }
        Reply(srb);
    }

    private void Reply(Srb srb)
    {
        // The reply: a front end sends it, marks it sent, and releases the SRB.
        lock (_answered) _answered.Add(((uint)srb.RequestId, srb.Status));
        Adapter.MarkReplySent(srb);
        srb.Release();
    }

    /// <summary>Sends every reply waiting in the send queue.</summary>
    public int SendReplies()
    {
        List<Srb> batch;
        lock (_unsent) { batch = [.. _unsent]; _unsent.Clear(); }
        foreach (var srb in batch) Reply(srb);
        return batch.Count;
    }

    /// <summary>Drops the replies waiting (the connection closed): the SRBs are released unanswered.</summary>
    public int DropReplies()
    {
        List<Srb> batch;
        lock (_unsent) { batch = [.. _unsent]; _unsent.Clear(); }
        foreach (var srb in batch) srb.Release();
        return batch.Count;
    }

    public void Advance(double ms) => Clock.Advance(TimeSpan.FromMilliseconds(ms));

    public async ValueTask DisposeAsync()
    {
        Miniport.OnIo = static (srb, m) => m.Complete(srb, SrbStatus.Success);
        Miniport.CompleteAllHeld();
        await Port.DisposeAsync();
    }
}
