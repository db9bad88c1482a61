namespace StorSharp.Port;

/// <summary>Sorts a request into the <see cref="FaultOperations"/> it belongs to, by SRB function and SBC-4 operation code.</summary>
public static class FaultOperationClassifier
{
    /// <summary>The operation kind of <paramref name="srb"/>.</summary>
    public static FaultOperations Classify(Srb srb)
    {
        if (srb.Function is SrbFunction.Flush or SrbFunction.Shutdown) return FaultOperations.Flush;
        if (srb.Function != SrbFunction.ExecuteScsi || srb.CdbLength == 0) return FaultOperations.Other;
        return Classify(srb.OperationCode);
    }

    /// <summary>The operation kind of a SCSI operation code.</summary>
    public static FaultOperations Classify(byte opcode) => opcode switch
    {
        0x08 or 0x28 or 0xA8 or 0x88 => FaultOperations.Read,
        0x0A or 0x2A or 0xAA or 0x8A or 0x2E or 0xAE or 0x8E or 0x41 or 0x93 or 0x89 or 0x9C => FaultOperations.Write,
        0x35 or 0x91 => FaultOperations.Flush,
        0x42 => FaultOperations.Unmap,
        _ => FaultOperations.Other,
    };

    /// <summary>Parses <c>read</c>, <c>write</c>, <c>flush</c>, <c>unmap</c>, <c>other</c>, <c>media</c> or <c>all</c>.</summary>
    public static bool TryParse(string text, out FaultOperations operations)
    {
        operations = text.Trim().ToLowerInvariant() switch
        {
            "read" => FaultOperations.Read,
            "write" => FaultOperations.Write,
            "flush" => FaultOperations.Flush,
            "unmap" => FaultOperations.Unmap,
            "other" => FaultOperations.Other,
            "media" => FaultOperations.Media,
            "all" => FaultOperations.All,
            _ => FaultOperations.None,
        };
        return operations != FaultOperations.None;
    }

    /// <summary>The names of the set bits, for listings: <c>read,write</c>.</summary>
    public static string Format(FaultOperations operations) => operations switch
    {
        FaultOperations.All => "all",
        FaultOperations.Media => "media",
        _ => string.Join(",", Enum.GetValues<FaultOperations>()
            .Where(v => v is FaultOperations.Read or FaultOperations.Write or FaultOperations.Flush or FaultOperations.Unmap or FaultOperations.Other && operations.HasFlag(v))
            .Select(v => v.ToString().ToLowerInvariant())),
    };
}
