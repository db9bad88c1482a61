using System.Buffers;

namespace StorSharp.Port;

/// <summary>
/// An SRB's data buffer as a list of memory segments (Storport <c>STOR_SCATTER_GATHER_LIST</c>,
/// what <c>StorPortGetScatterGatherList</c> returns). Valid until the SRB completes. Segments
/// are either attached by the submitter or rented from the shared pool through
/// <see cref="Rent(int)"/>; rented ones go back to the pool when the SRB is released.
/// </summary>
public sealed class ScatterGatherList
{
    private Memory<byte>[] _segments = new Memory<byte>[4];
    private byte[]?[] _rented = new byte[]?[4];
    private int _count;
    private long _length;

    /// <summary>How many segments the list holds.</summary>
    public int Count => _count;

    /// <summary>The total length of all segments in bytes.</summary>
    public long Length => _length;

    /// <summary>The segment at <paramref name="index"/>.</summary>
    public Memory<byte> this[int index] =>
        (uint)index < (uint)_count ? _segments[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>True when the whole buffer is one segment (the common case; copy-free for backends).</summary>
    public bool IsSingleSegment => _count == 1;

    /// <summary>Appends a segment the caller owns; it must stay valid until the SRB is released.</summary>
    public void Add(Memory<byte> segment)
    {
        if (segment.IsEmpty) return;
        Grow();
        _segments[_count] = segment;
        _rented[_count] = null;
        _count++;
        _length += segment.Length;
    }

    /// <summary>Rents a buffer of <paramref name="length"/> bytes from the shared pool and appends it.</summary>
    /// <returns>The new segment, exactly <paramref name="length"/> bytes long.</returns>
    public Memory<byte> Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0) return Memory<byte>.Empty;
        Grow();
        var array = ArrayPool<byte>.Shared.Rent(length);
        var segment = new Memory<byte>(array, 0, length);
        _segments[_count] = segment;
        _rented[_count] = array;
        _count++;
        _length += length;
        return segment;
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes starting at <paramref name="offset"/> of the list into it.</summary>
    /// <returns>The number of bytes copied (less when the list ends first).</returns>
    public int CopyTo(long offset, Span<byte> destination)
    {
        int copied = 0;
        for (int i = 0; i < _count && copied < destination.Length; i++)
        {
            var seg = _segments[i].Span;
            if (offset >= seg.Length) { offset -= seg.Length; continue; }
            var part = seg[(int)offset..];
            offset = 0;
            int n = Math.Min(part.Length, destination.Length - copied);
            part[..n].CopyTo(destination[copied..]);
            copied += n;
        }
        return copied;
    }

    /// <summary>Copies <paramref name="source"/> into the list starting at <paramref name="offset"/>.</summary>
    /// <returns>The number of bytes copied (less when the list ends first).</returns>
    public int CopyFrom(long offset, ReadOnlySpan<byte> source)
    {
        int copied = 0;
        for (int i = 0; i < _count && copied < source.Length; i++)
        {
            var seg = _segments[i].Span;
            if (offset >= seg.Length) { offset -= seg.Length; continue; }
            var part = seg[(int)offset..];
            offset = 0;
            int n = Math.Min(part.Length, source.Length - copied);
            source.Slice(copied, n).CopyTo(part);
            copied += n;
        }
        return copied;
    }

    /// <summary>Fills <paramref name="count"/> bytes from <paramref name="offset"/> with zeros.</summary>
    public void Clear(long offset, long count)
    {
        for (int i = 0; i < _count && count > 0; i++)
        {
            var seg = _segments[i].Span;
            if (offset >= seg.Length) { offset -= seg.Length; continue; }
            var part = seg[(int)offset..];
            offset = 0;
            int n = (int)Math.Min(part.Length, count);
            part[..n].Clear();
            count -= n;
        }
    }

    /// <summary>Drops every segment and returns the rented ones to the pool.</summary>
    public void Reset()
    {
        for (int i = 0; i < _count; i++)
        {
            if (_rented[i] is { } array) ArrayPool<byte>.Shared.Return(array);
            _rented[i] = null;
            _segments[i] = default;
        }
        _count = 0;
        _length = 0;
    }

    private void Grow()
    {
        if (_count < _segments.Length) return;
        Array.Resize(ref _segments, _segments.Length * 2);
        Array.Resize(ref _rented, _rented.Length * 2);
    }
}
