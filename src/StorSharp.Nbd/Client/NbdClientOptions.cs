namespace StorSharp.Nbd.Client;

/// <summary>Settings of an <see cref="NbdBlockDevice"/>: where the export is, and how long to wait for it.</summary>
public sealed class NbdClientOptions
{
    /// <summary>The export to connect to.</summary>
    public required NbdServerAddress Address { get; init; }

    /// <summary>
    /// The logical block size the device reports: 512 or 4096, or 0 (the default) for 512 unless the
    /// server's minimum block size is larger, then 4096. Must be at least the server's minimum.
    /// </summary>
    public int BlockSize { get; init; }

    /// <summary>How long one request may wait for its reply once sent (30 s by default). It then fails with <c>NotReady</c>.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a connection attempt (TCP connect and handshake) may take (10 s by default).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Negotiate structured replies and <c>base:allocation</c> (on by default); off: simple replies, no extents.</summary>
    public bool StructuredReplies { get; init; } = true;

    /// <summary>The largest READ or WRITE payload sent, below the server's maximum (32 MiB by default).</summary>
    public int MaxPayload { get; init; } = 32 * 1024 * 1024;

    /// <summary>How the device reconnects after the connection is lost.</summary>
    public NbdReconnectPolicy Reconnect { get; init; } = new();

    internal void Validate()
    {
        if (Address is null) throw new ArgumentException("NbdClientOptions.Address is null.");
        if (BlockSize is not (0 or 512 or 4096))
            throw new ArgumentException($"NbdClientOptions.BlockSize {BlockSize} is not supported: use 512, 4096 or 0 (automatic).");
        if (RequestTimeout <= TimeSpan.Zero) throw new ArgumentException($"NbdClientOptions.RequestTimeout must be positive, not {RequestTimeout}.");
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentException($"NbdClientOptions.ConnectTimeout must be positive, not {ConnectTimeout}.");
        if (MaxPayload < 4096) throw new ArgumentException($"NbdClientOptions.MaxPayload must be at least 4096, not {MaxPayload}.");
        (Reconnect ?? throw new ArgumentException("NbdClientOptions.Reconnect is null.")).Validate();
    }
}

/// <summary>
/// How an <see cref="NbdBlockDevice"/> gets its connection back: attempts with exponential backoff,
/// bounded in number and in time, while requests wait up to <see cref="RequestWait"/>.
/// </summary>
public sealed class NbdReconnectPolicy
{
    /// <summary>Reconnect at all (on by default). Off: a lost connection fails every request with <c>NotReady</c> until the device is recreated.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The wait before the second attempt (the first is immediate); 100 ms by default. Each wait doubles.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between attempts (5 s by default).</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Attempts in one reconnect cycle before giving up; 0 means no limit (the default, <see cref="MaxTime"/> bounds it).</summary>
    public int MaxAttempts { get; init; }

    /// <summary>How long one reconnect cycle may last before giving up (2 minutes by default). A new request starts a new cycle.</summary>
    public TimeSpan MaxTime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a request waits for a connection before it fails with <c>NotReady</c> (30 s by default).</summary>
    public TimeSpan RequestWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How many times one request is sent again after connections were lost under it (3 by default).</summary>
    public int MaxReplays { get; init; } = 3;

    internal void Validate()
    {
        if (InitialDelay < TimeSpan.Zero) throw new ArgumentException($"Reconnect InitialDelay must not be negative, not {InitialDelay}.");
        if (MaxDelay < InitialDelay) throw new ArgumentException($"Reconnect MaxDelay ({MaxDelay}) must be at least InitialDelay ({InitialDelay}).");
        if (MaxAttempts < 0) throw new ArgumentException($"Reconnect MaxAttempts must not be negative, not {MaxAttempts}.");
        if (MaxTime <= TimeSpan.Zero) throw new ArgumentException($"Reconnect MaxTime must be positive, not {MaxTime}.");
        if (RequestWait < TimeSpan.Zero) throw new ArgumentException($"Reconnect RequestWait must not be negative, not {RequestWait}.");
        if (MaxReplays < 0) throw new ArgumentException($"Reconnect MaxReplays must not be negative, not {MaxReplays}.");
    }
}
