using System.Net;

namespace StorSharp.Nbd;

/// <summary>Settings of an <see cref="NbdServer"/>. The server takes a snapshot when it starts.</summary>
public sealed class NbdServerOptions
{
    /// <summary>The default NBD port.</summary>
    public const int DefaultPort = 10809;

    /// <summary>Where to listen; 127.0.0.1:10809 by default. Port 0 picks a free port (see <see cref="NbdServer.LocalEndpoint"/>).</summary>
    public IPEndPoint Endpoint { get; set; } = new(IPAddress.Loopback, DefaultPort);

    /// <summary>The exports; names must be unique.</summary>
    public IReadOnlyList<NbdExport> Exports { get; set; } = [];

    /// <summary>The export served to a client that asks for the empty name; the first export when null.</summary>
    public string? DefaultExportName { get; set; }

    /// <summary>
    /// The largest READ or WRITE payload, advertised as NBD_INFO_BLOCK_SIZE maximum (32 MiB by default).
    /// A larger READ fails with EINVAL (EOVERFLOW with DF); a larger WRITE closes the connection,
    /// which the spec allows, so its data is never buffered.
    /// </summary>
    public int MaxPayload { get; set; } = 32 * 1024 * 1024;

    /// <summary>Requests one connection may have in flight before the server stops reading from it (128 by default).</summary>
    public int MaxInFlightPerConnection { get; set; } = 128;

    /// <summary>Payload bytes one connection may hold in flight (writes being written, reads being sent); 128 MiB by default.</summary>
    public long MaxInFlightBytesPerConnection { get; set; } = 128L * 1024 * 1024;

    /// <summary>
    /// The send buffer asked for on each TCP connection (SO_SNDBUF; Linux doubles it), 384 KiB by
    /// default; 0 leaves the kernel's autotuning. With autotuning the buffer grows past a whole 1 MiB
    /// reply, the kernel then pushes the reply through loopback in one go on the sending thread, and a
    /// 1 MiB READ cost about 260 µs of server CPU instead of about 150 µs (docs/benchmarks.md). Over a
    /// long fat network (bandwidth x round trip well above 768 KiB) raise it, or set 0.
    /// </summary>
    public int SendBufferSize { get; set; } = 384 * 1024;

    /// <summary>
    /// How long a connection with nothing to read polls its socket before it sleeps, while it is busy
    /// (<see cref="StorSharp.Transport.ReceivePolling"/>): 50 µs by default, zero for off, at most
    /// 10 ms. At queue depth 1 it halved the 4 KiB round trip on the benchmark machine for about the
    /// same server CPU per request (docs/nbd.md, "Receive polling"); an idle connection costs nothing.
    /// </summary>
    public TimeSpan ReceivePollWindow { get; set; } = StorSharp.Transport.ReceivePolling.DefaultWindow;

    /// <summary>The longest option data accepted during negotiation; longer options get NBD_REP_ERR_TOO_BIG.</summary>
    public int MaxOptionLength { get; set; } = 64 * 1024;

    internal void Validate()
    {
        if (Endpoint is null) throw new ArgumentException("NbdServerOptions.Endpoint is null.");
        if (Exports is null) throw new ArgumentException("NbdServerOptions.Exports is null.");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in Exports)
        {
            if (e is null) throw new ArgumentException("NbdServerOptions.Exports contains null.");
            if (e.Name is null || System.Text.Encoding.UTF8.GetByteCount(e.Name) > 4096)
                throw new ArgumentException($"Export name '{e.Name}' is null or longer than 4096 bytes.");
            if (e.Adapter is null) throw new ArgumentException($"Export '{e.Name}' has no adapter.");
            if (!names.Add(e.Name)) throw new ArgumentException($"Two exports are named '{e.Name}'.");
        }
        if (DefaultExportName is not null && !names.Contains(DefaultExportName))
            throw new ArgumentException($"DefaultExportName '{DefaultExportName}' names no export.");
        if (MaxPayload is < 4096 or > 1024 * 1024 * 1024)
            throw new ArgumentException($"MaxPayload is {MaxPayload}; it must be between 4 KiB and 1 GiB.");
        if (MaxInFlightPerConnection is < 1 or > 4096)
            throw new ArgumentException($"MaxInFlightPerConnection is {MaxInFlightPerConnection}; it must be between 1 and 4096.");
        if (MaxInFlightBytesPerConnection < MaxPayload)
            throw new ArgumentException($"MaxInFlightBytesPerConnection ({MaxInFlightBytesPerConnection}) must be at least MaxPayload ({MaxPayload}).");
        if (SendBufferSize is < 0 or > 256 * 1024 * 1024)
            throw new ArgumentException($"SendBufferSize is {SendBufferSize}; it must be 0 (the kernel's autotuning) or up to 256 MiB.");
        if (ReceivePollWindow < TimeSpan.Zero || ReceivePollWindow > StorSharp.Transport.ReceivePolling.MaximumWindow)
            throw new ArgumentException($"ReceivePollWindow is {ReceivePollWindow.TotalMicroseconds} µs; it must be between 0 (off) and {StorSharp.Transport.ReceivePolling.MaximumWindow.TotalMilliseconds} ms.");
        if (MaxOptionLength is < 4096 + 64 or > 16 * 1024 * 1024)
            throw new ArgumentException($"MaxOptionLength is {MaxOptionLength}; it must be between 4160 bytes and 16 MiB.");
    }
}
