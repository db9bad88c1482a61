namespace StorSharp.Port;

/// <summary>What kind of operation a request is, for statistics (the performance summary keeps maximum latencies per kind).</summary>
public enum OperationClass : byte
{
    /// <summary>Anything that is not one of the others (INQUIRY, MODE SENSE, resets ...).</summary>
    Other = 0,
    /// <summary>READ (6/10/12/16/32).</summary>
    Read = 1,
    /// <summary>WRITE (6/10/12/16/32), WRITE AND VERIFY, WRITE SAME, COMPARE AND WRITE.</summary>
    Write = 2,
    /// <summary>SYNCHRONIZE CACHE (10/16), and the FLUSH and SHUTDOWN functions.</summary>
    Flush = 3,
    /// <summary>UNMAP.</summary>
    Unmap = 4,
}

/// <summary>Classifies SRBs by their function and operation code (SBC-4 opcodes).</summary>
public static class OperationClassifier
{
    /// <summary>The class of <paramref name="srb"/>.</summary>
    public static OperationClass Classify(Srb srb) => srb.Function switch
    {
        SrbFunction.ExecuteScsi => Classify(srb.OperationCode),
        SrbFunction.Flush or SrbFunction.Shutdown => OperationClass.Flush,
        _ => OperationClass.Other,
    };

    /// <summary>The class of a SCSI operation code.</summary>
    public static OperationClass Classify(byte opcode) => opcode switch
    {
        0x08 or 0x28 or 0xA8 or 0x88 => OperationClass.Read,
        0x0A or 0x2A or 0xAA or 0x8A or 0x2E or 0xAE or 0x8E or 0x41 or 0x93 or 0x89 => OperationClass.Write,
        0x35 or 0x91 => OperationClass.Flush,
        0x42 => OperationClass.Unmap,
        _ => OperationClass.Other,
    };
}
