namespace StorSharp.Port;

/// <summary>
/// One rule of an LU's fault-injection filter: what it does (<see cref="Kind"/>), to which
/// requests (<see cref="Operations"/>), and how often (every matching request, the first
/// <see cref="Count"/> of them, or each with probability <see cref="Rate"/>).
/// </summary>
public sealed record FaultRule
{
    /// <summary>What the rule does.</summary>
    public required FaultKind Kind { get; init; }

    /// <summary>The requests it applies to; reads, writes, flushes and unmaps by default.</summary>
    public FaultOperations Operations { get; init; } = FaultOperations.Media;

    /// <summary>How many matching requests it affects before it is spent; null for no limit.</summary>
    public int? Count { get; init; }

    /// <summary>The probability (0 to 1) that a matching request is affected; null for every one.</summary>
    public double? Rate { get; init; }

    /// <summary>For <see cref="FaultKind.Delay"/> (and optionally before a timeout): the shortest delay.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>With <see cref="Delay"/>: the longest delay; each request waits a uniformly random time in between. Null for a fixed delay.</summary>
    public TimeSpan? DelayMax { get; init; }

    /// <summary>For <see cref="FaultKind.Error"/>: the sense key (SPC-4 table 48; 3 MEDIUM ERROR, 4 HARDWARE ERROR, 2 NOT READY...).</summary>
    public byte SenseKey { get; init; } = 0x03;

    /// <summary>For <see cref="FaultKind.Error"/>: the additional sense code (0x11 UNRECOVERED READ ERROR by default).</summary>
    public byte Asc { get; init; } = 0x11;

    /// <summary>For <see cref="FaultKind.Error"/>: the additional sense code qualifier.</summary>
    public byte Ascq { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> whose parameter name is the field at fault.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind)) throw new ArgumentException($"{Kind} is not a fault kind.", "kind");
        if (Operations == FaultOperations.None || (Operations & ~FaultOperations.All) != 0)
            throw new ArgumentException("names no operation; use read, write, flush, unmap, other, media or all.", "operations");
        if (Count is < 1) throw new ArgumentException($"is {Count}; it must be at least 1 (leave it out for no limit).", "count");
        if (Rate is { } r && (double.IsNaN(r) || r <= 0 || r > 1)) throw new ArgumentException($"is {r}; it must be more than 0 and at most 1.", "rate");
        if (Count is not null && Rate is not null) throw new ArgumentException("give count or rate, not both.", "rate");
        if (Delay < TimeSpan.Zero || Delay > TimeSpan.FromMinutes(10)) throw new ArgumentException($"is {Delay}; it must be between 0 and 10 minutes.", "delay");
        if (DelayMax is { } max && (max < Delay || max > TimeSpan.FromMinutes(10)))
            throw new ArgumentException($"the range ends at {max}, before its start {Delay} or past 10 minutes.", "delay");
        if (Kind == FaultKind.Delay && Delay == TimeSpan.Zero && DelayMax is null) throw new ArgumentException("a delay rule needs a delay greater than 0.", "delay");
        if (Kind == FaultKind.Error && (SenseKey is 0 or > 0x0F)) throw new ArgumentException($"is {SenseKey}; an error needs a sense key from 1 to 15.", "senseKey");
    }

    /// <summary>A short description for listings and events: <c>error read count=1 sense=03/11/00</c>.</summary>
    public override string ToString()
    {
        var text = $"{Kind} {FaultOperationClassifier.Format(Operations)}";
        if (Delay > TimeSpan.Zero || DelayMax is not null)
            text += DelayMax is { } max ? $" delay={Delay.TotalMilliseconds:0}..{max.TotalMilliseconds:0}ms" : $" delay={Delay.TotalMilliseconds:0}ms";
        if (Count is { } c) text += $" count={c}";
        if (Rate is { } r) text += $" rate={r:0.###}";
        if (Kind == FaultKind.Error) text += $" sense={SenseKey:X2}/{Asc:X2}/{Ascq:X2}";
        return text;
    }
}
