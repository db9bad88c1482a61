using System.Diagnostics;

namespace StorSharp.Transport;

/// <summary>
/// Busy polling before sleep for a server's connections: when a connection has nothing to read,
/// its receive watches the socket for up to <see cref="Window"/> before it waits for the kernel to
/// wake it, so a request that follows the last reply closely is picked up by a thread that is
/// still running.
/// </summary>
/// <remarks>
/// <para>
/// Why: at queue depth 1 every request costs two sleeps and two wake-ups, one per side. On a
/// virtual machine a wake-up that needs an idle vCPU is a trip through the hypervisor. On the
/// 2-vCPU benchmark machine a NBD 4 KiB round trip took about 55 µs, and polling brought it to
/// about 27 µs for the same server CPU per request (docs/nbd.md, "Receive polling"): the CPU a
/// poll burns is about what the sleep and the wake-up it saves would have cost.
/// </para>
/// <para>
/// Which reads poll is the connection's call (<see cref="PollingNetworkStream"/>): only a read
/// that starts a request, only from a client in lock step, and only while the connection is hot
/// (its last such wait was shorter than the window). An idle or slow client costs at most one
/// window per idle period. At most <see cref="MaxPollers"/> reads poll at once in the whole
/// process: one fewer than the processors, so none on a single-processor machine, where a poll
/// would only keep the client from running. A read that finds every slot taken
/// waits as usual.
/// </para>
/// <para>
/// A poll runs on the thread that reads. With inline socket completions (the CLI turns them on)
/// that is the socket engine's event thread, which other connections may share: they can wait
/// behind a poll, for at most <see cref="PollingNetworkStream.ProbeInterval"/> polls in a row
/// (each at most the window plus one request's work), because every
/// <see cref="PollingNetworkStream.ProbeInterval"/>th read sleeps instead.
/// </para>
/// </remarks>
public sealed class ReceivePolling
{
    /// <summary>The window used when none is configured: 50 µs.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMicroseconds(50);

    /// <summary>The longest window accepted: 10 ms. Longer would burn a core on idle connections.</summary>
    public static readonly TimeSpan MaximumWindow = TimeSpan.FromMilliseconds(10);

    private static readonly PollerSlots ProcessSlots = new(Environment.ProcessorCount - 1);

    private readonly PollerSlots _slots;
    private long _polls;
    private long _hits;

    /// <summary>No polling: every receive that finds nothing waits for the kernel at once.</summary>
    public static ReceivePolling Off { get; } = new(TimeSpan.Zero);

    /// <summary>Polls for up to <paramref name="window"/>, sharing the process's poller slots with every other instance.</summary>
    /// <param name="window">How long a receive watches an empty socket before it sleeps; zero turns polling off.</param>
    /// <exception cref="ArgumentOutOfRangeException">The window is negative or longer than <see cref="MaximumWindow"/>.</exception>
    public ReceivePolling(TimeSpan window) : this(Validated(window), ProcessSlots) { }

    /// <summary>Any window (tests use long ones) and its own slots.</summary>
    internal ReceivePolling(TimeSpan window, PollerSlots slots)
    {
        Window = window;
        WindowTicks = (long)(window.TotalSeconds * Stopwatch.Frequency);
        _slots = slots;
    }

    private static TimeSpan Validated(TimeSpan window) =>
        window >= TimeSpan.Zero && window <= MaximumWindow ? window
        : throw new ArgumentOutOfRangeException(nameof(window), window, $"The receive polling window must be between 0 (off) and {MaximumWindow.TotalMilliseconds} ms.");

    /// <summary>How long a receive watches an empty socket before it sleeps; zero when polling is off.</summary>
    public TimeSpan Window { get; }

    /// <summary>Whether receives poll at all.</summary>
    public bool Enabled => WindowTicks > 0;

    /// <summary>How many receives may poll at once in this process (shared by every server in it).</summary>
    public int MaxPollers => _slots.Capacity;

    /// <summary>Polls started so far by connections using this instance.</summary>
    public long Polls => Interlocked.Read(ref _polls);

    /// <summary>Polls that found data before the window ran out.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    internal long WindowTicks { get; }

    internal bool TryEnter() => _slots.TryEnter();

    internal void Exit(bool hit)
    {
        _slots.Exit();
        Interlocked.Increment(ref _polls);
        if (hit) Interlocked.Increment(ref _hits);
    }
}

/// <summary>A counted set of slots: how many receives may poll at once.</summary>
internal sealed class PollerSlots(int capacity)
{
    private int _taken;

    public int Capacity { get; } = capacity;

    public int Taken => Volatile.Read(ref _taken);

    public bool TryEnter()
    {
        while (true)
        {
            int taken = Volatile.Read(ref _taken);
            if (taken >= Capacity) return false;
            if (Interlocked.CompareExchange(ref _taken, taken + 1, taken) == taken) return true;
        }
    }

    public void Exit() => Interlocked.Decrement(ref _taken);
}
