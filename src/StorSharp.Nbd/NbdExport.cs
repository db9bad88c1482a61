using StorSharp.Port;

namespace StorSharp.Nbd;

/// <summary>One export of an <see cref="NbdServer"/>: a name and the LU it serves.</summary>
/// <param name="Name">The name clients ask for (UTF-8, at most 4096 bytes).</param>
/// <param name="Adapter">The adapter the LU is on.</param>
/// <param name="Address">The LU.</param>
/// <param name="Description">Text for NBD_INFO_DESCRIPTION, if any.</param>
/// <param name="ReadOnly">Serve the export read-only (NBD_FLAG_READ_ONLY; writes fail with EPERM) even if the LU is writable.</param>
public sealed record NbdExport(string Name, Adapter Adapter, ScsiAddress Address, string? Description = null, bool ReadOnly = false);
