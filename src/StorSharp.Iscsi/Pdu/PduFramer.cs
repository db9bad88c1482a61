using System.Buffers;

namespace StorSharp.Iscsi.Pdu;

/// <summary>What <see cref="PduFramer.TryRead(in ReadOnlySequence{byte}, in FrameLimits, out PduFrame, out long)"/> found.</summary>
internal enum FrameStatus
{
    /// <summary>A whole PDU was read.</summary>
    Complete,
    /// <summary>The input ends inside a PDU; read more and call again.</summary>
    NeedMoreData,
    /// <summary>The header digest did not match: the stream can no longer be trusted (RFC 7143 §7.8: drop the connection).</summary>
    HeaderDigestError,
    /// <summary>The data digest did not match; the frame is delivered and consumed so the stream stays in sync (RFC 7143 §7.8: Reject, reason data digest error).</summary>
    DataDigestError,
    /// <summary>The data segment exceeds the negotiated MaxRecvDataSegmentLength; <c>consumed</c> is the whole frame length, which the caller must skip.</summary>
    DataSegmentTooLong,
    /// <summary>The AHS is larger than this target accepts.</summary>
    AhsTooLong,
}

/// <summary>The limits a receiver applies while framing.</summary>
/// <param name="MaxDataSegmentLength">The MaxRecvDataSegmentLength this side declared (RFC 7143 §13.12).</param>
/// <param name="HeaderDigest">True when HeaderDigest=CRC32C was negotiated.</param>
/// <param name="DataDigest">True when DataDigest=CRC32C was negotiated.</param>
/// <param name="MaxAhsLength">The largest AHS accepted, in bytes.</param>
internal readonly record struct FrameLimits(int MaxDataSegmentLength, bool HeaderDigest, bool DataDigest, int MaxAhsLength = 256);

/// <summary>One framed PDU: its BHS (copied, 48 bytes), AHS and data segment (slices of the input, valid until the input is advanced).</summary>
internal struct PduFrame
{
    public BhsBuffer Header;
    public ReadOnlySequence<byte> Ahs;
    public ReadOnlySequence<byte> Data;

    public readonly IscsiOpcode Opcode => Bhs.Opcode(Header);
    public readonly int DataLength => (int)Data.Length;
}

/// <summary>
/// Splits a byte stream into PDUs (RFC 7143 §11.2: BHS, AHS, header digest, data segment padded to
/// 4 bytes, data digest). Pure: no I/O, no allocation.
/// </summary>
internal static class PduFramer
{
    /// <summary>The whole frame length for the given parts.</summary>
    public static int FrameLength(int ahsLength, int dataLength, bool headerDigest, bool dataDigest) =>
        Bhs.Size + ahsLength + (headerDigest ? 4 : 0) + Bhs.Padded(dataLength) + (dataDigest && dataLength > 0 ? 4 : 0);

    /// <summary>Reads one PDU from the start of <paramref name="input"/>.</summary>
    /// <param name="input">The received bytes.</param>
    /// <param name="limits">The negotiated limits.</param>
    /// <param name="frame">The PDU when the result is <see cref="FrameStatus.Complete"/> or <see cref="FrameStatus.DataDigestError"/>; its header for the other errors.</param>
    /// <param name="consumed">Bytes of the input the PDU occupies (for <see cref="FrameStatus.DataSegmentTooLong"/> this may exceed the input).</param>
    public static FrameStatus TryRead(in ReadOnlySequence<byte> input, in FrameLimits limits, out PduFrame frame, out long consumed)
    {
        frame = default;
        consumed = 0;
        if (input.Length < Bhs.Size) return FrameStatus.NeedMoreData;
        input.Slice(0, Bhs.Size).CopyTo(frame.Header);
        ReadOnlySpan<byte> bhs = frame.Header;
        int ahsLength = Bhs.TotalAhsLength(bhs);
        int dataLength = Bhs.DataSegmentLength(bhs);
        bool hd = limits.HeaderDigest, dd = limits.DataDigest;
        int total = FrameLength(ahsLength, dataLength, hd, dd);
        if (ahsLength > limits.MaxAhsLength) { consumed = total; return FrameStatus.AhsTooLong; }
        int headerEnd = Bhs.Size + ahsLength + (hd ? 4 : 0);
        if (input.Length < headerEnd) return FrameStatus.NeedMoreData;
        if (hd)
        {
            // RFC 7143 §13.1: the header digest covers BHS and AHS.
            uint crc = Crc32C.Compute(input.Slice(0, Bhs.Size + ahsLength));
            Span<byte> digest = stackalloc byte[4];
            input.Slice(Bhs.Size + ahsLength, 4).CopyTo(digest);
            if (crc != Crc32C.Read(digest)) return FrameStatus.HeaderDigestError;
        }
        if (dataLength > limits.MaxDataSegmentLength) { consumed = total; return FrameStatus.DataSegmentTooLong; }
        if (input.Length < total) return FrameStatus.NeedMoreData;
        frame.Ahs = input.Slice(Bhs.Size, ahsLength);
        frame.Data = input.Slice(headerEnd, dataLength);
        consumed = total;
        if (dd && dataLength > 0)
        {
            // RFC 7143 §13.1: the data digest covers the data segment and its padding.
            uint crc = Crc32C.Compute(input.Slice(headerEnd, Bhs.Padded(dataLength)));
            Span<byte> digest = stackalloc byte[4];
            input.Slice(headerEnd + Bhs.Padded(dataLength), 4).CopyTo(digest);
            if (crc != Crc32C.Read(digest)) return FrameStatus.DataDigestError;
        }
        return FrameStatus.Complete;
    }

    /// <summary>Reads one PDU from a span (tests and tools).</summary>
    public static FrameStatus TryRead(ReadOnlySpan<byte> input, in FrameLimits limits, out PduFrame frame, out long consumed)
    {
        var array = input.ToArray(); // tests only: the hot path uses the sequence overload
        return TryRead(new ReadOnlySequence<byte>(array), limits, out frame, out consumed);
    }

    /// <summary>
    /// Writes a whole PDU: the BHS (its TotalAHSLength and DataSegmentLength are set here), AHS,
    /// header digest, data, padding and data digest.
    /// </summary>
    /// <returns>The bytes written, <see cref="FrameLength"/>.</returns>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> bhs, ReadOnlySpan<byte> ahs, ReadOnlySpan<byte> data, bool headerDigest, bool dataDigest)
    {
        int total = FrameLength(ahs.Length, data.Length, headerDigest, dataDigest);
        if (destination.Length < total) throw new ArgumentException("The destination is too small for the PDU.", nameof(destination));
        bhs[..Bhs.Size].CopyTo(destination);
        Bhs.SetTotalAhsLength(destination, ahs.Length);
        Bhs.SetDataSegmentLength(destination, data.Length);
        ahs.CopyTo(destination[Bhs.Size..]);
        int pos = Bhs.Size + ahs.Length;
        if (headerDigest) { Crc32C.Write(destination[pos..], Crc32C.Compute(destination[..pos])); pos += 4; }
        if (data.Length > 0)
        {
            data.CopyTo(destination[pos..]);
            int padded = Bhs.Padded(data.Length);
            destination.Slice(pos + data.Length, padded - data.Length).Clear();
            if (dataDigest) Crc32C.Write(destination[(pos + padded)..], Crc32C.Compute(destination.Slice(pos, padded)));
        }
        return total;
    }

    /// <summary>
    /// Finishes a PDU whose data the caller already placed at <c>destination[DataOffset..]</c>
    /// (copy-free Data-In): sets lengths, digests and padding.
    /// </summary>
    public static int Seal(Span<byte> destination, int dataLength, bool headerDigest, bool dataDigest)
    {
        Bhs.SetTotalAhsLength(destination, 0);
        Bhs.SetDataSegmentLength(destination, dataLength);
        int pos = Bhs.Size;
        if (headerDigest) { Crc32C.Write(destination[pos..], Crc32C.Compute(destination[..pos])); pos += 4; }
        if (dataLength > 0)
        {
            int padded = Bhs.Padded(dataLength);
            destination.Slice(pos + dataLength, padded - dataLength).Clear();
            if (dataDigest) Crc32C.Write(destination[(pos + padded)..], Crc32C.Compute(destination.Slice(pos, padded)));
        }
        return FrameLength(0, dataLength, headerDigest, dataDigest);
    }

    /// <summary>Where the data segment starts in a PDU without AHS.</summary>
    public static int DataOffset(bool headerDigest) => Bhs.Size + (headerDigest ? 4 : 0);
}
