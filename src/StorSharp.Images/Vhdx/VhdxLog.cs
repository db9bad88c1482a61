using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Images.Mapped;

namespace StorSharp.Images.Vhdx;

/// <summary>One update of a log entry: 4 KiB of data (or a run of zeros) for a file offset.</summary>
internal readonly record struct VhdxLogUpdate(long FileOffset, long ZeroLength, byte[]? Data);

/// <summary>A valid log entry (MS-VHDX 2.3.1).</summary>
internal sealed record VhdxLogEntry(long LogOffset, int EntryLength, long Tail, ulong SequenceNumber, long FlushedFileOffset, long LastFileOffset, VhdxLogUpdate[] Updates);

/// <summary>
/// The VHDX log (MS-VHDX 2.3): finds the active sequence (the newest valid and complete run of entries,
/// each one sequence number after the previous, whose head's tail lies inside it) and replays it: data
/// and zero descriptors written in order from the tail entry, the file extended to the head's
/// LastFileOffset, fsync, then the headers rewritten with a zero LogGuid.
/// </summary>
internal static class VhdxLog
{
    private const int Sector = 4096;
    private const int MaxLogLength = 256 << 20;

    /// <summary>Parses the entry at <paramref name="at"/> of the circular <paramref name="log"/>; null when it is not a valid entry.</summary>
    public static VhdxLogEntry? TryParseEntry(byte[] log, long at, Guid logGuid)
    {
        if (at % Sector != 0 || at >= log.Length) return null;
        var first = Circular(log, at, Sector);
        if (!first.AsSpan().StartsWith("loge"u8)) return null;
        uint entryLength = BinaryPrimitives.ReadUInt32LittleEndian(first.AsSpan(8));
        uint tail = BinaryPrimitives.ReadUInt32LittleEndian(first.AsSpan(12));
        ulong sequence = BinaryPrimitives.ReadUInt64LittleEndian(first.AsSpan(16));
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(first.AsSpan(24));
        var guid = new Guid(first.AsSpan(32, 16));
        ulong flushed = BinaryPrimitives.ReadUInt64LittleEndian(first.AsSpan(48)), last = BinaryPrimitives.ReadUInt64LittleEndian(first.AsSpan(56));
        if (entryLength == 0 || entryLength % Sector != 0 || entryLength > log.Length || tail % Sector != 0 || tail >= log.Length
            || sequence == 0 || guid != logGuid || flushed % (1 << 20) != 0 || last % (1 << 20) != 0 || flushed > long.MaxValue || last > long.MaxValue)
            return null;
        long descriptorBytes = 64 + 32L * count;
        long descriptorSectors = (descriptorBytes + Sector - 1) / Sector;
        if (descriptorSectors * Sector > entryLength) return null;
        var entry = Circular(log, at, (int)entryLength);
        if (!VhdxCrc.Verify(entry, 4)) return null;
        var updates = new VhdxLogUpdate[count];
        long dataSector = descriptorSectors;
        for (int i = 0; i < count; i++)
        {
            var d = entry.AsSpan(64 + i * 32, 32);
            ulong fileOffset = BinaryPrimitives.ReadUInt64LittleEndian(d[16..]);
            if (BinaryPrimitives.ReadUInt64LittleEndian(d[24..]) != sequence || fileOffset % Sector != 0 || fileOffset > long.MaxValue / 2) return null;
            if (d.StartsWith("zero"u8))
            {
                ulong zeroLength = BinaryPrimitives.ReadUInt64LittleEndian(d[8..]);
                if (zeroLength % Sector != 0 || zeroLength > 1UL << 40) return null;
                updates[i] = new VhdxLogUpdate((long)fileOffset, (long)zeroLength, null);
            }
            else if (d.StartsWith("desc"u8))
            {
                if ((dataSector + 1) * Sector > entryLength) return null;
                var s = entry.AsSpan((int)(dataSector * Sector), Sector);
                if (!s.StartsWith("data"u8) || BinaryPrimitives.ReadUInt32LittleEndian(s[4..]) != (uint)(sequence >> 32)
                    || BinaryPrimitives.ReadUInt32LittleEndian(s[4092..]) != (uint)sequence)
                    return null;
                var data = new byte[Sector];
                d.Slice(8, 8).CopyTo(data);            // LeadingBytes
                s.Slice(8, 4084).CopyTo(data.AsSpan(8));
                d.Slice(4, 4).CopyTo(data.AsSpan(4092)); // TrailingBytes
                updates[i] = new VhdxLogUpdate((long)fileOffset, 0, data);
                dataSector++;
            }
            else return null;
        }
        return new VhdxLogEntry(at, (int)entryLength, tail, sequence, (long)flushed, (long)last, updates);
    }

    private static byte[] Circular(byte[] log, long at, int length)
    {
        var b = new byte[length];
        int first = (int)Math.Min(length, log.Length - at);
        log.AsSpan((int)at, first).CopyTo(b);
        if (first < length) log.AsSpan(0, length - first).CopyTo(b.AsSpan(first));
        return b;
    }

    /// <summary>The active sequence, tail entry first (MS-VHDX 2.3.3); empty when there is none.</summary>
    public static List<VhdxLogEntry> FindActiveSequence(byte[] log, Guid logGuid)
    {
        var candidate = new List<VhdxLogEntry>();
        long currentTail = 0, oldTail = 0;
        // Each step moves the tail forward, so at most one pass over the log's sectors (plus the wrap).
        for (int guard = 0; guard <= log.Length / Sector + 1; guard++)
        {
            var current = new List<VhdxLogEntry>();
            long head = currentTail;
            long covered = 0;
            while (covered < log.Length)
            {
                var entry = TryParseEntry(log, head, logGuid);
                if (entry is null || (current.Count > 0 && entry.SequenceNumber != current[^1].SequenceNumber + 1)) break;
                current.Add(entry);
                covered += entry.EntryLength;
                head = (head + entry.EntryLength) % log.Length;
            }
            bool valid = current.Count > 0 && current.Any(e => e.LogOffset == current[^1].Tail);
            if (valid && current[^1].SequenceNumber > (candidate.Count > 0 ? candidate[^1].SequenceNumber : 0))
            {
                int tailIndex = current.FindIndex(e => e.LogOffset == current[^1].Tail);
                candidate = current.GetRange(tailIndex, current.Count - tailIndex);
            }
            currentTail = valid ? head : (currentTail + Sector) % log.Length;
            if (currentTail < oldTail) break;
            oldTail = currentTail;
        }
        return candidate;
    }

    /// <summary>
    /// Replays the log of a file whose current header has a non-zero LogGuid, then clears the LogGuid in
    /// both headers. Refused (with how to proceed) when the image is opened read-only.
    /// </summary>
    public static async ValueTask ReplayAsync(ImageFile file, VhdxHeader header, int slot, CancellationToken cancellationToken)
    {
        long headerAt = VhdxHeader.Offsets[slot];
        if (header.LogLength > MaxLogLength)
            throw file.Corrupt("VHDX header", headerAt, $"the log of {header.LogLength} bytes is larger than {MaxLogLength} bytes");
        if (file.ReadOnly)
            throw file.Corrupt("VHDX header", headerAt,
                $"the log (LogGuid {header.LogGuid}) holds updates that were never applied, and the image is opened read-only; open it read-write once (StorSharp replays the log then), or replay it with `qemu-img check -r all {file.Path}`");
        var log = new byte[header.LogLength];
        await file.ReadStructureAsync((long)header.LogOffset, log, "VHDX log", cancellationToken).ConfigureAwait(false);
        var sequence = FindActiveSequence(log, header.LogGuid);
        if (sequence.Count == 0)
            throw file.Corrupt("VHDX log", (long)header.LogOffset, $"the header names log {header.LogGuid} but the log holds no valid, complete sequence of entries for it");
        var head = sequence[^1];
        long length = file.Length;
        if (length < head.FlushedFileOffset)
            throw file.Corrupt("VHDX log", (long)header.LogOffset + head.LogOffset, $"the file is {length} bytes, shorter than the {head.FlushedFileOffset} bytes the log says were flushed: truncated");
        long logStart = (long)header.LogOffset, logEnd = logStart + header.LogLength;
        foreach (var entry in sequence)
            foreach (var update in entry.Updates)
            {
                long end = update.FileOffset + (update.Data?.Length ?? update.ZeroLength);
                if (update.FileOffset < 1 << 20 || (update.FileOffset < logEnd && logStart < end) || end > Math.Max(length, head.LastFileOffset) + (1L << 30))
                    throw file.Corrupt("VHDX log", logStart + entry.LogOffset, $"entry {entry.SequenceNumber} writes {end - update.FileOffset} bytes at {update.FileOffset}, into the header section, the log, or far past the end of the file");
            }
        try
        {
            foreach (var entry in sequence)
                foreach (var update in entry.Updates)
                {
                    if (update.Data is not null) await file.WriteAsync(update.FileOffset, update.Data, cancellationToken).ConfigureAwait(false);
                    else await ZeroFill.WriteAsync(file, update.FileOffset, update.ZeroLength, cancellationToken).ConfigureAwait(false);
                }
            if (file.Length < head.LastFileOffset) file.SetLength(head.LastFileOffset);
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            var current = header;
            for (int n = 0; n < 2; n++)
            {
                slot ^= 1;
                current = current with { SequenceNumber = current.SequenceNumber + 1, LogGuid = Guid.Empty };
                await file.WriteAsync(VhdxHeader.Offsets[slot], current.ToBytes(), cancellationToken).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (BlockDeviceException e)
        {
            throw new DiskImageException($"{file.Path}: replaying the VHDX log failed: {e.Message}", e);
        }
    }
}
