using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Port.Tests.Engine;

public class ContractAndConcurrencyTests
{
    [Fact]
    public async Task Completing_a_request_twice_is_reported_and_the_submitter_sees_one_completion()
    {
        var mp = new TestMiniport { OnIo = static (srb, m) => { m.Complete(srb, SrbStatus.Success); m.Complete(srb, SrbStatus.Success); } };
        await using var f = await PortFixture.StartAsync(mp);
        var done = new Completions();
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        Assert.Equal(1, done.Count);
        var violation = Assert.Single(f.Events(StorageEventIds.ContractViolation));
        Assert.Contains("twice", violation.Message);
        srb.Release();
    }

    [Fact]
    public async Task Completing_a_request_the_miniport_never_got_is_reported_and_ignored()
    {
        await using var f = await PortFixture.StartAsync();
        var stranger = f.Read();
        f.Miniport.Port.CompleteRequest(stranger);
        var violation = Assert.Single(f.Events(StorageEventIds.ContractViolation));
        Assert.Contains("never had it", violation.Message);
        Assert.Equal(SrbStatus.Pending, stranger.Status);
        stranger.Release();
    }

    [Fact]
    public async Task Submitting_an_srb_that_is_still_in_flight_is_refused()
    {
        await using var f = await PortFixture.StartAsync(new TestMiniport { OnIo = static (s, m) => m.Hold(s) });
        var srb = f.Read();
        f.Adapter.Submit(srb);
        var ex = Assert.Throws<InvalidOperationException>(() => f.Adapter.Submit(srb));
        Assert.Contains("already in flight", ex.Message);
        f.Miniport.CompleteAllHeld();
        srb.Release();
    }

    [Fact]
    public async Task A_miniport_that_throws_from_StartIo_does_not_take_the_port_down()
    {
        int calls = 0;
        var mp = new TestMiniport { OnIo = (s, m) => { if (++calls == 1) throw new InvalidOperationException("boom"); m.Complete(s, SrbStatus.Success); } };
        await using var f = await PortFixture.StartAsync(mp);
        var done = new Completions();
        var srb = f.Read(handler: done);
        f.Adapter.Submit(srb);
        f.Advance(250);
        Assert.Equal(SrbStatus.Success, Assert.Single(done.All).Status); // retried like a refusal
        Assert.Contains(f.Events(StorageEventIds.ContractViolation), e => e.Message.Contains("boom"));
        srb.Release();
    }

    [Fact]
    public async Task Many_threads_submitting_with_completions_on_other_threads_lose_nothing_and_complete_nothing_twice()
    {
        var mp = new TestMiniport([new(0, 0, 0), new(0, 0, 1)])
        {
            OnIo = static (srb, m) =>
            {
                if ((srb.RequestId & 1) == 0) m.Complete(srb, SrbStatus.Success);
                else ThreadPool.UnsafeQueueUserWorkItem(s => m.Complete(s, SrbStatus.Success), srb, false);
            },
        };
        await using var port = new StoragePort();
        var adapter = await port.AddAdapterAsync(TestMiniport.Register(mp));
        const int threads = 8, perThread = 5_000;
        var counter = new CountingHandler(threads * perThread);
        var workers = Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < perThread; i++)
            {
                var srb = SrbPool.Shared.Rent();
                srb.InitCdb(10)[0] = 0x28;
                srb.Address = new ScsiAddress(0, 0, (byte)(i & 1));
                srb.RequestId = (ulong)(t * perThread + i);
                srb.QueueAction = i % 97 == 0 ? QueueAction.Ordered : QueueAction.Simple;
                srb.CompletionHandler = counter;
                adapter.Submit(srb);
            }
        })).ToArray();
        await Task.WhenAll(workers);
        Assert.True(await counter.AllDone.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, counter.Duplicates);
        Assert.Equal(threads * perThread, counter.Distinct);
        Assert.Empty(port.Events.WithId(StorageEventIds.ContractViolation));
        Assert.All(adapter.LogicalUnits, lu => Assert.Equal(0, lu.OutstandingCount + lu.PendingCount));
    }

    private sealed class CountingHandler(int expected) : ISrbCompletionHandler
    {
        private readonly bool[] _seen = new bool[expected];
        private int _count;
        public int Duplicates;
        public int Distinct;
        public readonly TaskCompletionSource<bool> AllDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnSrbCompleted(Srb srb)
        {
            int id = (int)srb.RequestId;
            bool ok = srb.Status == SrbStatus.Success;
            lock (_seen)
            {
                if (_seen[id] || !ok) Duplicates++;
                else { _seen[id] = true; Distinct++; }
            }
            srb.Release();
            if (Interlocked.Increment(ref _count) == expected) AllDone.TrySetResult(true);
        }
    }

    [Fact]
    public async Task SrbExtension_is_sized_by_the_registration_and_zeroed_per_request()
    {
        var mp = new TestMiniport();
        int seenLength = -1;
        bool zeroed = false;
        mp.OnIo = (srb, m) =>
        {
            seenLength = srb.SrbExtension.Length;
            zeroed = !srb.SrbExtension.ContainsAnyExcept((byte)0);
            srb.SrbExtension.Fill(0xEE);
            m.Complete(srb, SrbStatus.Success);
        };
        await using var port = new StoragePort();
        var adapter = await port.AddAdapterAsync(TestMiniport.Register(mp, srbExtension: 64));
        var srb = SrbPool.Shared.Rent();
        srb.InitCdb(6);
        for (int i = 0; i < 2; i++)
        {
            await adapter.ExecuteAsync(srb);
            Assert.Equal(64, seenLength);
            Assert.True(zeroed);
        }
        srb.Release();
    }
}
