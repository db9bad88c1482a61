namespace StorSharp.Port;

/// <summary>
/// The I_T nexus an SRB arrives on: which initiator port talks through which target port
/// (SAM-5 §4.6). Reservations and unit attentions are kept per nexus. Front ends create one per
/// session (iSCSI) or connection (NBD) and reuse it for every request, so it costs nothing per SRB.
/// </summary>
public sealed class InitiatorNexus
{
    private static long s_next;

    /// <summary>Creates a nexus.</summary>
    /// <param name="initiatorPortName">The initiator port's name, for example <c>iqn.1993-08.org.debian:01:abc,i,0x23d000000001</c>.</param>
    /// <param name="targetPortName">The target port's name.</param>
    /// <param name="relativeTargetPortId">The relative target port identifier reported in VPD page 83.</param>
    public InitiatorNexus(string initiatorPortName, string targetPortName, ushort relativeTargetPortId = 1)
    {
        InitiatorPortName = initiatorPortName;
        TargetPortName = targetPortName;
        RelativeTargetPortId = relativeTargetPortId;
        Id = Interlocked.Increment(ref s_next);
    }

    /// <summary>A process-unique number for this nexus, cheap to compare and to use as a key.</summary>
    public long Id { get; }

    /// <summary>The initiator port's name (for iSCSI: initiator name, <c>,i,</c>, ISID).</summary>
    public string InitiatorPortName { get; }

    /// <summary>The target port's name.</summary>
    public string TargetPortName { get; }

    /// <summary>The relative target port identifier.</summary>
    public ushort RelativeTargetPortId { get; }

    /// <summary>The nexus used by requests that come from StorSharp itself (enumeration, the in-process API).</summary>
    public static InitiatorNexus Local { get; } = new("storsharp.local", "storsharp.local", 1);

    /// <inheritdoc/>
    public override string ToString() => $"{InitiatorPortName} -> {TargetPortName}";
}
