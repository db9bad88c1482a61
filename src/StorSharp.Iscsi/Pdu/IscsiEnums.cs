namespace StorSharp.Iscsi.Pdu;

// Wire enums carry explicit values (RFC 7143 §11.2.1.2 and the PDU sections); a stability test guards them.

/// <summary>PDU opcodes (RFC 7143 §11.2.1.2).</summary>
internal enum IscsiOpcode : byte
{
    NopOut = 0x00,
    ScsiCommand = 0x01,
    TaskManagementRequest = 0x02,
    LoginRequest = 0x03,
    TextRequest = 0x04,
    ScsiDataOut = 0x05,
    LogoutRequest = 0x06,
    Snack = 0x10,
    NopIn = 0x20,
    ScsiResponse = 0x21,
    TaskManagementResponse = 0x22,
    LoginResponse = 0x23,
    TextResponse = 0x24,
    ScsiDataIn = 0x25,
    LogoutResponse = 0x26,
    ReadyToTransfer = 0x31,
    AsyncMessage = 0x32,
    Reject = 0x3F,
}

/// <summary>Reject reasons (RFC 7143 §11.17.1).</summary>
internal enum RejectReason : byte
{
    DataDigestError = 0x02,
    SnackReject = 0x03,
    ProtocolError = 0x04,
    CommandNotSupported = 0x05,
    ImmediateCommandReject = 0x06,
    TaskInProgress = 0x07,
    InvalidDataAck = 0x08,
    InvalidPduField = 0x09,
    LongOperationReject = 0x0A,
    WaitingForLogout = 0x0C,
}

/// <summary>Task management functions (RFC 7143 §11.5.1).</summary>
internal enum TaskManagementFunction : byte
{
    AbortTask = 1,
    AbortTaskSet = 2,
    ClearAca = 3,
    ClearTaskSet = 4,
    LogicalUnitReset = 5,
    TargetWarmReset = 6,
    TargetColdReset = 7,
    TaskReassign = 8,
}

/// <summary>Task management responses (RFC 7143 §11.6.1).</summary>
internal enum TaskManagementResponse : byte
{
    FunctionComplete = 0,
    TaskDoesNotExist = 1,
    LunDoesNotExist = 2,
    TaskStillAllegiant = 3,
    TaskAllegianceReassignmentNotSupported = 4,
    FunctionNotSupported = 5,
    FunctionAuthorizationFailed = 6,
    FunctionRejected = 255,
}

/// <summary>Logout reasons (RFC 7143 §11.14.1).</summary>
internal enum LogoutReason : byte
{
    CloseSession = 0,
    CloseConnection = 1,
    RemoveConnectionForRecovery = 2,
}

/// <summary>Logout responses (RFC 7143 §11.15.1).</summary>
internal enum LogoutResponseCode : byte
{
    ClosedSuccessfully = 0,
    CidNotFound = 1,
    RecoveryNotSupported = 2,
    CleanupFailed = 3,
}

/// <summary>Async events (RFC 7143 §11.9.1).</summary>
internal enum AsyncEventCode : byte
{
    ScsiAsyncEvent = 0,
    LogoutRequested = 1,
    ConnectionWillBeDropped = 2,
    AllConnectionsWillBeDropped = 3,
    ParameterNegotiationRequested = 4,
    VendorSpecific = 255,
}

/// <summary>The response code of a SCSI Response PDU (RFC 7143 §11.4.3).</summary>
internal enum ScsiResponseCode : byte
{
    CommandCompletedAtTarget = 0x00,
    TargetFailure = 0x01,
}

/// <summary>Login status class and detail as one 16-bit value, class in the high byte (RFC 7143 §11.13.5).</summary>
internal enum LoginStatus : ushort
{
    Success = 0x0000,
    TargetMovedTemporarily = 0x0101,
    TargetMovedPermanently = 0x0102,
    InitiatorError = 0x0200,
    AuthenticationFailure = 0x0201,
    AuthorizationFailure = 0x0202,
    NotFound = 0x0203,
    TargetRemoved = 0x0204,
    UnsupportedVersion = 0x0205,
    TooManyConnections = 0x0206,
    MissingParameter = 0x0207,
    CannotIncludeInSession = 0x0208,
    SessionTypeNotSupported = 0x0209,
    SessionDoesNotExist = 0x020A,
    InvalidDuringLogin = 0x020B,
    TargetError = 0x0300,
    ServiceUnavailable = 0x0301,
    OutOfResources = 0x0302,
}

/// <summary>Login stages (CSG / NSG values, RFC 7143 §11.12.3).</summary>
internal enum LoginStage : byte
{
    SecurityNegotiation = 0,
    OperationalNegotiation = 1,
    FullFeaturePhase = 3,
}

/// <summary>SCSI Command task attributes (RFC 7143 §11.3.1).</summary>
internal enum TaskAttribute : byte
{
    Untagged = 0,
    Simple = 1,
    Ordered = 2,
    HeadOfQueue = 3,
    Aca = 4,
}
