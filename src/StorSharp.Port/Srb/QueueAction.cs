namespace StorSharp.Port;

/// <summary>
/// How a tagged request is ordered in its LU's queue (Storport <c>QueueAction</c>; SAM task attributes).
/// Values are the SCSI-2 queue tag message codes Storport uses.
/// </summary>
public enum QueueAction : byte
{
    /// <summary>SIMPLE: may run in any order with other SIMPLE requests, but never before an earlier ORDERED one finishes.</summary>
    Simple = 0x20,
    /// <summary>HEAD OF QUEUE: goes to the front of the queue and starts as soon as a slot is free.</summary>
    HeadOfQueue = 0x21,
    /// <summary>ORDERED: starts only after every earlier request finished; later requests wait for it.</summary>
    Ordered = 0x22,
}

/// <summary>Which way the data of an SRB moves (Storport <c>SRB_FLAGS_DATA_IN</c> / <c>DATA_OUT</c> / <c>NO_DATA_TRANSFER</c>).</summary>
public enum DataDirection : byte
{
    /// <summary>No data phase.</summary>
    None = 0,
    /// <summary>Device to host (a read).</summary>
    In = 1,
    /// <summary>Host to device (a write).</summary>
    Out = 2,
}
