using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Port.Tests;

/// <summary>A port on a manual clock with one adapter of a <see cref="TestMiniport"/>.</summary>
internal sealed class PortFixture : IAsyncDisposable
{
    public ManualTimeProvider Clock { get; } = new();
    public StoragePort Port { get; }
    public TestMiniport Miniport { get; }
    public Adapter Adapter { get; private set; } = null!;
    public static readonly ScsiAddress Lu0 = new(0, 0, 0);

    private PortFixture(TestMiniport miniport, PortTunables? tunables, int maxBuses)
    {
        Miniport = miniport;
        Port = new StoragePort(new PortOptions
        {
            Time = Clock,
            Tunables = tunables ?? new PortTunables(),
            MaximumBuses = maxBuses,
            HeartbeatInterval = TimeSpan.FromMilliseconds(250),
        });
    }

    public static async Task<PortFixture> StartAsync(TestMiniport? miniport = null, PortTunables? tunables = null, int maxBuses = 8)
    {
        var f = new PortFixture(miniport ?? new TestMiniport(), tunables, maxBuses);
        f.Adapter = await f.Port.AddAdapterAsync(TestMiniport.Register(f.Miniport));
        return f;
    }

    public Srb Read(ScsiAddress? address = null, uint timeout = 10, QueueAction action = QueueAction.Simple, ISrbCompletionHandler? handler = null)
    {
        var srb = SrbPool.Shared.Rent();
        var cdb = srb.InitCdb(10);
        cdb[0] = 0x28; // READ(10)
        cdb[8] = 8;
        srb.Address = address ?? Lu0;
        srb.Direction = DataDirection.In;
        srb.Data.Rent(4096);
        srb.TimeOutValue = timeout;
        srb.QueueAction = action;
        srb.CompletionHandler = handler;
        return srb;
    }

    public void Advance(double milliseconds) => Clock.Advance(TimeSpan.FromMilliseconds(milliseconds));

    public IReadOnlyList<StorageEvent> Events(int id) => Port.Events.WithId(id);

    public async ValueTask DisposeAsync()
    {
        // Stopping drains and flushes: let the miniport answer from here on.
        Miniport.OnIo = static (srb, m) => m.Complete(srb, SrbStatus.Success);
        Miniport.CompleteAllHeld();
        await Port.DisposeAsync();
    }
}

/// <summary>Collects completed SRBs in order, thread-safe.</summary>
internal sealed class Completions : ISrbCompletionHandler
{
    private readonly List<Srb> _done = [];
    public readonly List<TimeSpan> At = [];
    private readonly ManualTimeProvider? _clock;

    public Completions(ManualTimeProvider? clock = null) => _clock = clock;

    public void OnSrbCompleted(Srb srb)
    {
        lock (_done)
        {
            _done.Add(srb);
            if (_clock is not null) At.Add(_clock.Elapsed);
        }
    }

    public int Count { get { lock (_done) return _done.Count; } }
    public List<Srb> All { get { lock (_done) return [.. _done]; } }
    public bool Contains(Srb srb) { lock (_done) return _done.Contains(srb); }
}
