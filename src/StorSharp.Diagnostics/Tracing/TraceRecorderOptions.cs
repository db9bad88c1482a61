namespace StorSharp.Diagnostics.Tracing;

/// <summary>Limits of a trace recording.</summary>
public sealed record TraceRecorderOptions
{
    /// <summary>
    /// The most bytes the file may hold (default 512 MiB, about ten million requests). Past it,
    /// request and BUSY records are dropped and counted; events keep a small reserve
    /// (<see cref="EventReserveBytes"/>) so faults after the cap still show.
    /// </summary>
    public long MaxBytes { get; init; } = 512L * 1024 * 1024;

    /// <summary>Bytes kept for event records once the cap is reached (default 1 MiB).</summary>
    public long EventReserveBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// The size of each of the two in-memory buffers (default 1 MiB): records are copied into one
    /// while the other is written out; when both are full (the disk is slower than the I/O),
    /// records are dropped and counted rather than held in memory.
    /// </summary>
    public int BufferBytes { get; init; } = 1024 * 1024;

    /// <summary>How often the buffer is written out even when not full (default 200 ms).</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (MaxBytes < 64 * 1024) throw new ArgumentException($"The trace size limit is {MaxBytes} bytes; use at least 64 KiB.");
        if (EventReserveBytes < 0 || EventReserveBytes >= MaxBytes) throw new ArgumentException("The event reserve must be between 0 and the size limit.");
        if (BufferBytes is < 4096 or > 64 * 1024 * 1024) throw new ArgumentException($"The trace buffer is {BufferBytes} bytes; use 4 KiB to 64 MiB.");
        if (FlushInterval <= TimeSpan.Zero) throw new ArgumentException("The flush interval must be positive.");
    }
}
