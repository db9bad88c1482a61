using StorSharp.Class;
using StorSharp.Nbd.Protocol;
using StorSharp.Port;

namespace StorSharp.Nbd.Server;

/// <summary>
/// One request from header to reply. Pooled per connection, so the READ/WRITE path allocates
/// nothing once warm: the receive loop fills it, the SRB carries it as
/// <see cref="Srb.OriginalRequest"/>, the sender sends its reply and hands it back.
/// </summary>
internal sealed class NbdRequestState
{
    public NbdRequest Request;
    public Errno Error;
    /// <summary>The SRB that owns the data buffer (hot path), released after the reply is written.</summary>
    public Srb? Srb;
    /// <summary>Retries of transient SRB failures so far.</summary>
    public int Retries;
    /// <summary>A pooled buffer (slow path reads and writes), returned after the reply is written.</summary>
    public byte[]? Buffer;
    /// <summary>What a successful READ sends back.</summary>
    public Memory<byte> Data;
    /// <summary>BLOCK_STATUS descriptors as (length, flags) pairs, pooled.</summary>
    public uint[]? Descriptors;
    public int DescriptorCount;
    /// <summary>Payload bytes counted against the connection's in-flight budget.</summary>
    public long Bytes;
    /// <summary>The connection went away before the request could be answered; release it without a reply.</summary>
    public bool NoReply;

    public bool IsWrite => Request.Command is NbdCommand.Write or NbdCommand.WriteZeroes or NbdCommand.Trim;

    public void Reset()
    {
        Request = default;
        Error = Errno.None;
        Srb = null;
        Retries = 0;
        Buffer = null;
        Data = default;
        Descriptors = null;
        DescriptorCount = 0;
        Bytes = 0;
        NoReply = false;
    }
}
