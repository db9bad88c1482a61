namespace StorSharp.Class;

/// <summary>
/// The POSIX error numbers block protocols carry (NBD's error field uses exactly these Linux
/// values, NBD proto.md "Error values"). Members keep the POSIX spellings the specs use.
/// </summary>
#pragma warning disable CA1707 // POSIX names, as the NBD specification writes them
public enum Errno : uint
{
    /// <summary>No error.</summary>
    None = 0,
    /// <summary>Operation not permitted (a write to a read-only export, DATA PROTECT).</summary>
    EPERM = 1,
    /// <summary>Input/output error (MEDIUM or HARDWARE ERROR, anything without a better number).</summary>
    EIO = 5,
    /// <summary>Out of memory.</summary>
    ENOMEM = 12,
    /// <summary>Invalid argument (bad offset or length, reads past the end).</summary>
    EINVAL = 22,
    /// <summary>No space left (writes past the end, thin pool exhausted).</summary>
    ENOSPC = 28,
    /// <summary>Value too large (an oversized READ with NBD_CMD_FLAG_DF).</summary>
    EOVERFLOW = 75,
    /// <summary>Operation not supported.</summary>
    ENOTSUP = 95,
    /// <summary>The server is shutting down.</summary>
    ESHUTDOWN = 108,
}
#pragma warning restore CA1707
