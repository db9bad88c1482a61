using System.Buffers;
using System.Runtime.InteropServices;

namespace StorSharp.Nbd.Server;

/// <summary>
/// The replies of one send, as gather segments: headers, error replies, BLOCK_STATUS chunks and
/// small READ payloads are copied into one pooled buffer; READ payloads of
/// <see cref="CopyLimit"/> bytes or more are sent from the request's own buffer, without a copy.
/// The requests stay in the batch (their buffers alive) until the send is over. Owned by one
/// sender at a time; not thread-safe.
/// </summary>
internal sealed class ReplyBatch
{
    /// <summary>READ payloads smaller than this are copied next to their header; larger ones are sent in place.</summary>
    public const int CopyLimit = 16 * 1024;

    /// <summary>Room for copied bytes per batch; also the most a reply's copied part may need (a BLOCK_STATUS of 256 extents is about 2 KiB).</summary>
    public const int BufferSize = 256 * 1024;

    /// <summary>At most this many payload bytes per send, so one send does not hold a huge batch.</summary>
    public const long MaxBytes = 8L * 1024 * 1024;

    /// <summary>At most this many segments per send (the kernel's iovec limit is far above; .NET pins up to 64 without allocating).</summary>
    public const int MaxSegments = 64;

    private byte[]? _buffer;
    private int _runStart;  // the copied bytes not yet closed into a segment start here
    private int _length;    // bytes used in _buffer

    /// <summary>What the next send writes.</summary>
    public List<ArraySegment<byte>> Segments { get; } = new(MaxSegments);

    /// <summary>The requests whose replies are in the batch, released after the send.</summary>
    public List<NbdRequestState> Requests { get; } = new(128);

    /// <summary>Bytes in the batch.</summary>
    public long Bytes { get; private set; }

    /// <summary>Whether a reply with <paramref name="copied"/> bytes to copy and a payload of <paramref name="inPlace"/> bytes sent in place still fits.</summary>
    public bool Fits(int copied, int inPlace)
    {
        if (Requests.Count == 0) return true; // one reply always fits (BufferSize covers any copied part)
        if (BufferSize - _length < copied) return false;
        if (Bytes + copied + inPlace > MaxBytes) return false;
        return Segments.Count + (inPlace > 0 ? 2 : 1) < MaxSegments;
    }

    /// <summary>Room for <paramref name="size"/> bytes to copy into (at most <see cref="BufferSize"/>); follow with <see cref="Advance"/>.</summary>
    public Span<byte> GetSpan(int size)
    {
        _buffer ??= ArrayPool<byte>.Shared.Rent(BufferSize);
        return _buffer.AsSpan(_length, size);
    }

    /// <summary>Counts <paramref name="count"/> bytes written into <see cref="GetSpan"/>'s span.</summary>
    public void Advance(int count)
    {
        _length += count;
        Bytes += count;
    }

    /// <summary>Appends <paramref name="data"/> without copying (every payload buffer of the server is an array).</summary>
    public void AddInPlace(ReadOnlyMemory<byte> data)
    {
        // Not array-backed: never on the server's paths; a copy keeps it correct anyway.
        var segment = MemoryMarshal.TryGetArray(data, out var s) ? s : new ArraySegment<byte>(data.ToArray());
        CloseRun();
        Segments.Add(segment);
        Bytes += segment.Count;
    }

    /// <summary>Closes the copied bytes into a segment; call before sending.</summary>
    public void CloseRun()
    {
        if (_length > _runStart) Segments.Add(new ArraySegment<byte>(_buffer!, _runStart, _length - _runStart));
        _runStart = _length;
    }

    /// <summary>Empties the batch for the next send (the caller releases <see cref="Requests"/> first); keeps its buffer.</summary>
    public void Clear()
    {
        Segments.Clear();
        Requests.Clear();
        _runStart = _length = 0;
        Bytes = 0;
    }

    /// <summary>Returns the pooled buffer; the batch is empty and unused afterwards.</summary>
    public void ReturnBuffer()
    {
        Clear();
        if (_buffer is { } b) ArrayPool<byte>.Shared.Return(b);
        _buffer = null;
    }
}
