namespace StorSharp.Port;

/// <summary>
/// The 14 latency buckets of the per-LU performance summary (Storport event 505 carries 14 success
/// counts, 14 failure counts and 14 total latencies). Each bucket holds the requests whose latency
/// is at most its upper bound and above the previous one; the last bucket has no upper bound.
/// </summary>
/// <remarks>
/// Bounds: 128 µs, 256 µs, 512 µs, 1 ms, 4 ms, 16 ms, 64 ms, 128 ms, 256 ms, 2 s, 6 s, 10 s, 20 s,
/// and above 20 s. From 256 µs up this is the ladder Windows prints in event 505's "For latency
/// buckets of ..." line; 128 µs and 512 µs fill the 14 slots at the short end, where a user-mode
/// RAM disk answers.
/// </remarks>
public static class LatencyBuckets
{
    /// <summary>How many buckets there are.</summary>
    public const int Count = 14;

    private static readonly long[] s_upperBoundsMicroseconds =
        [128, 256, 512, 1_000, 4_000, 16_000, 64_000, 128_000, 256_000, 2_000_000, 6_000_000, 10_000_000, 20_000_000];

    /// <summary>The upper bounds of the first 13 buckets in microseconds (the 14th is unbounded).</summary>
    public static ReadOnlySpan<long> UpperBoundsMicroseconds => s_upperBoundsMicroseconds;

    /// <summary>The buckets' labels as Windows writes them: <c>128us</c>, <c>1ms</c>, ..., <c>20000+ms</c>.</summary>
    public static IReadOnlyList<string> Labels { get; } =
        ["128us", "256us", "512us", "1ms", "4ms", "16ms", "64ms", "128ms", "256ms", "2000ms", "6000ms", "10000ms", "20000ms", "20000+ms"];

    /// <summary>The bounds in timestamp ticks of a clock with <paramref name="frequency"/> ticks a second.</summary>
    public static long[] UpperBoundsInTicks(long frequency)
    {
        var ticks = new long[s_upperBoundsMicroseconds.Length];
        for (int i = 0; i < ticks.Length; i++) ticks[i] = (long)((decimal)s_upperBoundsMicroseconds[i] * frequency / 1_000_000m);
        return ticks;
    }

    /// <summary>The bucket a latency of <paramref name="ticks"/> falls in, given bounds from <see cref="UpperBoundsInTicks"/>.</summary>
    public static int IndexOf(long ticks, ReadOnlySpan<long> upperBoundsInTicks)
    {
        for (int i = 0; i < upperBoundsInTicks.Length; i++)
            if (ticks <= upperBoundsInTicks[i]) return i;
        return upperBoundsInTicks.Length;
    }

    /// <summary>The bucket a latency in microseconds falls in.</summary>
    public static int IndexOfMicroseconds(long microseconds) => IndexOf(microseconds, s_upperBoundsMicroseconds);
}
