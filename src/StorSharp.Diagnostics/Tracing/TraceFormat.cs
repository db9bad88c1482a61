namespace StorSharp.Diagnostics.Tracing;

/// <summary>
/// The layout of a StorSharp trace file (<c>storsharp serve --trace FILE</c>): a 32-byte header,
/// then records, each starting with its kind byte, all little-endian. Times are in 100 ns units
/// since the trace started.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Header: magic <c>SSTRACE1</c>, version (u32), reserved (u32), start time (UTC, .NET ticks, i64), reserved (i64).</item>
/// <item>Request (52 bytes): kind 1, adapter, path, target, lun, opcode, SrbStatus, ScsiStatus, function, flags,
/// BUSY retries (u16), class retries (u8), reserved (u8), bytes moved (u32), tag (u32), received (i64),
/// then five stage durations (u32 each): front end (received to queued), queue (queued to started),
/// service (started to backend done), completion (backend done to completed), reply (completed to reply sent).</item>
/// <item>Event (variable): kind 2, level, reserved (u16), event id (i32), time (i64), device and message as u16-length-prefixed UTF-8.</item>
/// <item>Busy (16 bytes): kind 3, adapter, path, target, lun, queue full (u8), retry (u16), time (i64).</item>
/// <item>Dropped (32 bytes): kind 4, reserved (7), requests dropped (i64), events dropped (i64), time (i64): the running totals.</item>
/// <item>Logical unit (variable): kind 5, adapter, path, target, lun, reserved (3), name as u16-length-prefixed UTF-8.</item>
/// </list>
/// </remarks>
public static class TraceFormat
{
    /// <summary>The file's first eight bytes.</summary>
    public static ReadOnlySpan<byte> Magic => "SSTRACE1"u8;

    /// <summary>The format version this code writes and reads.</summary>
    public const uint Version = 1;

    /// <summary>Bytes in the header.</summary>
    public const int HeaderSize = 32;

    /// <summary>Kind byte of a request record.</summary>
    public const byte KindRequest = 1;
    /// <summary>Kind byte of an event record.</summary>
    public const byte KindEvent = 2;
    /// <summary>Kind byte of a BUSY record.</summary>
    public const byte KindBusy = 3;
    /// <summary>Kind byte of a dropped-records note.</summary>
    public const byte KindDropped = 4;
    /// <summary>Kind byte of a logical-unit name.</summary>
    public const byte KindLogicalUnit = 5;

    /// <summary>Bytes in a request record.</summary>
    public const int RequestSize = 52;
    /// <summary>Bytes in a BUSY record.</summary>
    public const int BusySize = 16;
    /// <summary>Bytes in a dropped-records note.</summary>
    public const int DroppedSize = 32;

    /// <summary>Request flag: the port, not the miniport, finished it (reset, removal, link down).</summary>
    public const byte FlagCompletedByPort = 0x01;
    /// <summary>Request flag: it was outstanding while the port reset its LU after a timeout.</summary>
    public const byte FlagResetByPort = 0x02;
    /// <summary>Request flag: the front end marked it received but sent no reply (connection closed, task aborted).</summary>
    public const byte FlagNoReply = 0x04;
    /// <summary>Request flag: the front end marked it received and its reply (front end and reply stages are real).</summary>
    public const byte FlagFrontEndStamped = 0x08;
    /// <summary>Request flag: the miniport marked the backend call's end (service and completion stages are split).</summary>
    public const byte FlagBackendStamped = 0x10;
}
