namespace StorSharp.Nbd.Protocol;

/// <summary>The magic numbers of the NBD protocol (proto.md). A test pins every value.</summary>
public static class NbdMagic
{
    /// <summary>"NBDMAGIC", the first 8 bytes the server sends.</summary>
    public const ulong NbdMagicValue = 0x4e42444d41474943;

    /// <summary>"IHAVEOPT": after NBDMAGIC in newstyle negotiation, and before every option the client sends.</summary>
    public const ulong IHaveOpt = 0x49484156454F5054;

    /// <summary>The magic of every option reply.</summary>
    public const ulong OptionReply = 0x3e889045565a9;

    /// <summary>The magic of a transmission request.</summary>
    public const uint Request = 0x25609513;

    /// <summary>The magic of a simple reply.</summary>
    public const uint SimpleReply = 0x67446698;

    /// <summary>The magic of a structured reply chunk.</summary>
    public const uint StructuredReply = 0x668e33ef;
}

/// <summary>Handshake flags the server sends (u16).</summary>
[Flags]
public enum NbdHandshakeFlags : ushort
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>NBD_FLAG_FIXED_NEWSTYLE: the server speaks fixed newstyle.</summary>
    FixedNewstyle = 1 << 0,
    /// <summary>NBD_FLAG_NO_ZEROES: the server may omit the 124 zero bytes after NBD_OPT_EXPORT_NAME.</summary>
    NoZeroes = 1 << 1,
}

/// <summary>Client flags (u32) sent after the server's greeting.</summary>
[Flags]
public enum NbdClientFlags : uint
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>NBD_FLAG_C_FIXED_NEWSTYLE.</summary>
    FixedNewstyle = 1 << 0,
    /// <summary>NBD_FLAG_C_NO_ZEROES.</summary>
    NoZeroes = 1 << 1,
    /// <summary>Every flag this server knows; any other bit ends the connection (proto.md: "the server MUST close the connection").</summary>
    Known = FixedNewstyle | NoZeroes,
}

/// <summary>Options a client sends during negotiation (u32).</summary>
public enum NbdOption : uint
{
    /// <summary>NBD_OPT_EXPORT_NAME: choose an export and end negotiation (no reply on error: the connection closes).</summary>
    ExportName = 1,
    /// <summary>NBD_OPT_ABORT: end the session.</summary>
    Abort = 2,
    /// <summary>NBD_OPT_LIST: list the exports.</summary>
    List = 3,
    /// <summary>NBD_OPT_PEEK_EXPORT (withdrawn).</summary>
    PeekExport = 4,
    /// <summary>NBD_OPT_STARTTLS.</summary>
    StartTls = 5,
    /// <summary>NBD_OPT_INFO: describe an export.</summary>
    Info = 6,
    /// <summary>NBD_OPT_GO: describe an export and enter transmission.</summary>
    Go = 7,
    /// <summary>NBD_OPT_STRUCTURED_REPLY.</summary>
    StructuredReply = 8,
    /// <summary>NBD_OPT_LIST_META_CONTEXT.</summary>
    ListMetaContext = 9,
    /// <summary>NBD_OPT_SET_META_CONTEXT.</summary>
    SetMetaContext = 10,
    /// <summary>NBD_OPT_EXTENDED_HEADERS.</summary>
    ExtendedHeaders = 11,
}

/// <summary>Option reply types (u32); errors have bit 31 set.</summary>
public enum NbdOptionReplyType : uint
{
    /// <summary>NBD_REP_ACK.</summary>
    Ack = 1,
    /// <summary>NBD_REP_SERVER: one export of NBD_OPT_LIST.</summary>
    Server = 2,
    /// <summary>NBD_REP_INFO.</summary>
    Info = 3,
    /// <summary>NBD_REP_META_CONTEXT.</summary>
    MetaContext = 4,
    /// <summary>NBD_REP_ERR_UNSUP: unknown option.</summary>
    ErrUnsup = 0x80000000 | 1,
    /// <summary>NBD_REP_ERR_POLICY: forbidden by policy.</summary>
    ErrPolicy = 0x80000000 | 2,
    /// <summary>NBD_REP_ERR_INVALID: syntactically invalid.</summary>
    ErrInvalid = 0x80000000 | 3,
    /// <summary>NBD_REP_ERR_PLATFORM: not available on this platform.</summary>
    ErrPlatform = 0x80000000 | 4,
    /// <summary>NBD_REP_ERR_TLS_REQD.</summary>
    ErrTlsReqd = 0x80000000 | 5,
    /// <summary>NBD_REP_ERR_UNKNOWN: no such export.</summary>
    ErrUnknown = 0x80000000 | 6,
    /// <summary>NBD_REP_ERR_SHUTDOWN.</summary>
    ErrShutdown = 0x80000000 | 7,
    /// <summary>NBD_REP_ERR_BLOCK_SIZE_REQD.</summary>
    ErrBlockSizeReqd = 0x80000000 | 8,
    /// <summary>NBD_REP_ERR_TOO_BIG: the option's data is too large.</summary>
    ErrTooBig = 0x80000000 | 9,
}

/// <summary>Information types of NBD_OPT_INFO / NBD_OPT_GO (u16).</summary>
public enum NbdInfoType : ushort
{
    /// <summary>NBD_INFO_EXPORT: size and transmission flags.</summary>
    Export = 0,
    /// <summary>NBD_INFO_NAME.</summary>
    Name = 1,
    /// <summary>NBD_INFO_DESCRIPTION.</summary>
    Description = 2,
    /// <summary>NBD_INFO_BLOCK_SIZE: minimum, preferred and maximum payload.</summary>
    BlockSize = 3,
}

/// <summary>Transmission flags (u16) sent with the export size.</summary>
[Flags]
public enum NbdTransmissionFlags : ushort
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>NBD_FLAG_HAS_FLAGS: always set.</summary>
    HasFlags = 1 << 0,
    /// <summary>NBD_FLAG_READ_ONLY.</summary>
    ReadOnly = 1 << 1,
    /// <summary>NBD_FLAG_SEND_FLUSH.</summary>
    SendFlush = 1 << 2,
    /// <summary>NBD_FLAG_SEND_FUA.</summary>
    SendFua = 1 << 3,
    /// <summary>NBD_FLAG_ROTATIONAL.</summary>
    Rotational = 1 << 4,
    /// <summary>NBD_FLAG_SEND_TRIM.</summary>
    SendTrim = 1 << 5,
    /// <summary>NBD_FLAG_SEND_WRITE_ZEROES.</summary>
    SendWriteZeroes = 1 << 6,
    /// <summary>NBD_FLAG_SEND_DF (only with structured replies).</summary>
    SendDf = 1 << 7,
    /// <summary>NBD_FLAG_CAN_MULTI_CONN.</summary>
    CanMultiConn = 1 << 8,
    /// <summary>NBD_FLAG_SEND_RESIZE.</summary>
    SendResize = 1 << 9,
    /// <summary>NBD_FLAG_SEND_CACHE.</summary>
    SendCache = 1 << 10,
    /// <summary>NBD_FLAG_SEND_FAST_ZERO.</summary>
    SendFastZero = 1 << 11,
    /// <summary>NBD_FLAG_BLOCK_STAT_PAYLOAD.</summary>
    BlockStatusPayload = 1 << 12,
}

/// <summary>Transmission commands (u16).</summary>
public enum NbdCommand : ushort
{
    /// <summary>NBD_CMD_READ.</summary>
    Read = 0,
    /// <summary>NBD_CMD_WRITE.</summary>
    Write = 1,
    /// <summary>NBD_CMD_DISC: disconnect.</summary>
    Disconnect = 2,
    /// <summary>NBD_CMD_FLUSH.</summary>
    Flush = 3,
    /// <summary>NBD_CMD_TRIM.</summary>
    Trim = 4,
    /// <summary>NBD_CMD_CACHE.</summary>
    Cache = 5,
    /// <summary>NBD_CMD_WRITE_ZEROES.</summary>
    WriteZeroes = 6,
    /// <summary>NBD_CMD_BLOCK_STATUS.</summary>
    BlockStatus = 7,
    /// <summary>NBD_CMD_RESIZE.</summary>
    Resize = 8,
}

/// <summary>Command flags (u16).</summary>
[Flags]
public enum NbdCommandFlags : ushort
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>NBD_CMD_FLAG_FUA.</summary>
    Fua = 1 << 0,
    /// <summary>NBD_CMD_FLAG_NO_HOLE (WRITE_ZEROES).</summary>
    NoHole = 1 << 1,
    /// <summary>NBD_CMD_FLAG_DF (READ: do not fragment the reply).</summary>
    DontFragment = 1 << 2,
    /// <summary>NBD_CMD_FLAG_REQ_ONE (BLOCK_STATUS: one extent only).</summary>
    ReqOne = 1 << 3,
    /// <summary>NBD_CMD_FLAG_FAST_ZERO (WRITE_ZEROES: fail rather than be slow).</summary>
    FastZero = 1 << 4,
    /// <summary>NBD_CMD_FLAG_PAYLOAD_LEN (extended headers only).</summary>
    PayloadLength = 1 << 5,
}

/// <summary>Structured reply chunk flags (u16).</summary>
[Flags]
public enum NbdReplyFlags : ushort
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>NBD_REPLY_FLAG_DONE: the last chunk of the reply.</summary>
    Done = 1 << 0,
}

/// <summary>Structured reply chunk types (u16).</summary>
public enum NbdReplyChunkType : ushort
{
    /// <summary>NBD_REPLY_TYPE_NONE.</summary>
    None = 0,
    /// <summary>NBD_REPLY_TYPE_OFFSET_DATA.</summary>
    OffsetData = 1,
    /// <summary>NBD_REPLY_TYPE_OFFSET_HOLE.</summary>
    OffsetHole = 2,
    /// <summary>NBD_REPLY_TYPE_BLOCK_STATUS.</summary>
    BlockStatus = 5,
    /// <summary>NBD_REPLY_TYPE_ERROR.</summary>
    Error = 32769,
    /// <summary>NBD_REPLY_TYPE_ERROR_OFFSET.</summary>
    ErrorOffset = 32770,
}

/// <summary>The <c>base:allocation</c> metadata context's status bits.</summary>
[Flags]
public enum NbdAllocationState : uint
{
    /// <summary>Allocated data.</summary>
    Data = 0,
    /// <summary>NBD_STATE_HOLE.</summary>
    Hole = 1,
    /// <summary>NBD_STATE_ZERO.</summary>
    Zero = 2,
}
