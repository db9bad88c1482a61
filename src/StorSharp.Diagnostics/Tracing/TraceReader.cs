using System.Buffers.Binary;
using System.Text;
using StorSharp.Port;

namespace StorSharp.Diagnostics.Tracing;

/// <summary>Reads a trace file written by <see cref="TraceRecorder"/>.</summary>
public static class TraceReader
{
    /// <summary>Reads the whole file.</summary>
    /// <exception cref="InvalidDataException">The file is not a StorSharp trace, is of another version, or holds a record of an unknown kind.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static TraceData Read(string path) => Read(File.ReadAllBytes(path), path);

    /// <summary>Reads a trace from memory; <paramref name="name"/> names it in errors.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a StorSharp trace, are of another version, or hold a record of an unknown kind.</exception>
    public static TraceData Read(ReadOnlySpan<byte> bytes, string name = "trace")
    {
        if (bytes.Length < TraceFormat.HeaderSize || !bytes[..8].SequenceEqual(TraceFormat.Magic))
            throw new InvalidDataException($"{name} is not a StorSharp trace (it does not start with SSTRACE1); record one with 'storsharp serve --trace FILE'.");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (version != TraceFormat.Version)
            throw new InvalidDataException($"{name} is a version {version} trace; this storsharp reads version {TraceFormat.Version}.");
        long startTicks = BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]);
        if (startTicks < DateTimeOffset.MinValue.UtcTicks || startTicks > DateTimeOffset.MaxValue.UtcTicks)
            throw new InvalidDataException($"{name}: the header's start time is out of range; the file is damaged.");
        var requests = new List<TraceRequest>();
        var events = new List<TraceEvent>();
        var busy = new List<TraceBusy>();
        var units = new Dictionary<(int, ScsiAddress), string>();
        long droppedRequests = 0, droppedEvents = 0;
        bool truncated = false;
        int at = TraceFormat.HeaderSize;
        while (at < bytes.Length)
        {
            var rest = bytes[at..];
            byte kind = rest[0];
            switch (kind)
            {
                case TraceFormat.KindRequest:
                    if (rest.Length < TraceFormat.RequestSize) { truncated = true; break; }
                    requests.Add(new TraceRequest(rest[1], new ScsiAddress(rest[2], rest[3], rest[4]), rest[5], (SrbFunction)rest[8], rest[6], rest[7], rest[9],
                        BinaryPrimitives.ReadUInt16LittleEndian(rest[10..]), rest[12],
                        BinaryPrimitives.ReadUInt32LittleEndian(rest[14..]), BinaryPrimitives.ReadUInt32LittleEndian(rest[18..]),
                        BinaryPrimitives.ReadInt64LittleEndian(rest[22..]),
                        BinaryPrimitives.ReadUInt32LittleEndian(rest[30..]), BinaryPrimitives.ReadUInt32LittleEndian(rest[34..]),
                        BinaryPrimitives.ReadUInt32LittleEndian(rest[38..]), BinaryPrimitives.ReadUInt32LittleEndian(rest[42..]),
                        BinaryPrimitives.ReadUInt32LittleEndian(rest[46..])));
                    at += TraceFormat.RequestSize;
                    continue;
                case TraceFormat.KindBusy:
                    if (rest.Length < TraceFormat.BusySize) { truncated = true; break; }
                    busy.Add(new TraceBusy(rest[1], new ScsiAddress(rest[2], rest[3], rest[4]), rest[5] != 0,
                        BinaryPrimitives.ReadUInt16LittleEndian(rest[6..]), BinaryPrimitives.ReadInt64LittleEndian(rest[8..])));
                    at += TraceFormat.BusySize;
                    continue;
                case TraceFormat.KindDropped:
                    if (rest.Length < TraceFormat.DroppedSize) { truncated = true; break; }
                    droppedRequests = BinaryPrimitives.ReadInt64LittleEndian(rest[8..]);
                    droppedEvents = BinaryPrimitives.ReadInt64LittleEndian(rest[16..]);
                    at += TraceFormat.DroppedSize;
                    continue;
                case TraceFormat.KindEvent:
                {
                    if (rest.Length < 20) { truncated = true; break; }
                    int deviceLength = BinaryPrimitives.ReadUInt16LittleEndian(rest[16..]);
                    if (rest.Length < 20 + deviceLength) { truncated = true; break; }
                    int messageLength = BinaryPrimitives.ReadUInt16LittleEndian(rest[(18 + deviceLength)..]);
                    int size = 20 + deviceLength + messageLength;
                    if (rest.Length < size) { truncated = true; break; }
                    events.Add(new TraceEvent(BinaryPrimitives.ReadInt32LittleEndian(rest[4..]), (Port.EventLevel)rest[1],
                        BinaryPrimitives.ReadInt64LittleEndian(rest[8..]),
                        Encoding.UTF8.GetString(rest.Slice(18, deviceLength)), Encoding.UTF8.GetString(rest.Slice(20 + deviceLength, messageLength))));
                    at += size;
                    continue;
                }
                case TraceFormat.KindLogicalUnit:
                {
                    if (rest.Length < 10) { truncated = true; break; }
                    int length = BinaryPrimitives.ReadUInt16LittleEndian(rest[8..]);
                    if (rest.Length < 10 + length) { truncated = true; break; }
                    units[(rest[1], new ScsiAddress(rest[2], rest[3], rest[4]))] = Encoding.UTF8.GetString(rest.Slice(10, length));
                    at += 10 + length;
                    continue;
                }
                default:
                    throw new InvalidDataException($"{name}: byte {at} starts a record of unknown kind {kind}; the file is damaged.");
            }
            break; // truncated
        }
        return new TraceData(new DateTimeOffset(startTicks, TimeSpan.Zero), requests, events, busy, units, droppedRequests, droppedEvents, truncated);
    }
}
