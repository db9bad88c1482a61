namespace StorSharp.Iscsi.Login;

/// <summary>The operational values of a session or connection after login (RFC 7143 §13 defaults).</summary>
internal sealed class SessionParameters
{
    public bool HeaderDigest;
    public bool DataDigest;
    public int MaxConnections = 1;
    public bool InitialR2T = true;
    public bool ImmediateData = true;
    /// <summary>What the initiator declared it can receive: the largest data segment this target may send (§13.12).</summary>
    public int InitiatorMaxRecvDataSegmentLength = 8192;
    /// <summary>What this target declared: the largest data segment the initiator may send.</summary>
    public int TargetMaxRecvDataSegmentLength = 8192;
    public int MaxBurstLength = 262144;
    public int FirstBurstLength = 65536;
    public int DefaultTime2Wait = 2;
    public int DefaultTime2Retain = 20;
    public int MaxOutstandingR2T = 1;
    public bool DataPduInOrder = true;
    public bool DataSequenceInOrder = true;
    public int ErrorRecoveryLevel;
    public bool Discovery;

    /// <summary>Data the initiator sends unsolicited (immediate plus Data-Out before the first R2T) is capped by this (§13.14).</summary>
    public int UnsolicitedLimit => InitialR2T && !ImmediateData ? 0 : FirstBurstLength;

    public override string ToString() =>
        $"HeaderDigest={(HeaderDigest ? "CRC32C" : "None")} DataDigest={(DataDigest ? "CRC32C" : "None")} InitialR2T={InitialR2T} ImmediateData={ImmediateData} " +
        $"MaxRecvDSL(initiator)={InitiatorMaxRecvDataSegmentLength} MaxRecvDSL(target)={TargetMaxRecvDataSegmentLength} MaxBurst={MaxBurstLength} " +
        $"FirstBurst={FirstBurstLength} MaxOutstandingR2T={MaxOutstandingR2T} ERL={ErrorRecoveryLevel}";
}
