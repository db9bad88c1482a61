using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Client;

/// <summary>What the handshake learned about the export.</summary>
/// <param name="SizeBytes">The export size in bytes.</param>
/// <param name="Flags">The transmission flags.</param>
/// <param name="MinimumBlockSize">NBD_INFO_BLOCK_SIZE minimum (1 when the server sent none).</param>
/// <param name="PreferredBlockSize">NBD_INFO_BLOCK_SIZE preferred (4096 when the server sent none).</param>
/// <param name="MaximumPayload">NBD_INFO_BLOCK_SIZE maximum (32 MiB when the server sent none).</param>
/// <param name="StructuredReplies">The server agreed to NBD_OPT_STRUCTURED_REPLY.</param>
/// <param name="AllocationContextId">The id of <c>base:allocation</c>, or null when it was not selected.</param>
public sealed record NbdExportInfo(
    ulong SizeBytes,
    NbdTransmissionFlags Flags,
    uint MinimumBlockSize,
    uint PreferredBlockSize,
    uint MaximumPayload,
    bool StructuredReplies,
    uint? AllocationContextId)
{
    /// <summary>True when the flag is set.</summary>
    public bool Has(NbdTransmissionFlags flag) => (Flags & flag) == flag;
}

/// <summary>The export changed between two connections (size or flags), which the host can report as CAPACITY DATA HAS CHANGED.</summary>
/// <param name="Previous">What the previous connection saw.</param>
/// <param name="Current">What the new connection sees.</param>
public sealed class NbdExportChangedEventArgs(NbdExportInfo Previous, NbdExportInfo Current) : EventArgs
{
    /// <summary>What the previous connection saw.</summary>
    public NbdExportInfo Previous { get; } = Previous;

    /// <summary>What the new connection sees.</summary>
    public NbdExportInfo Current { get; } = Current;

    /// <summary>The size in bytes differs.</summary>
    public bool SizeChanged => Previous.SizeBytes != Current.SizeBytes;
}
