using StorSharp.Block;

namespace StorSharp.Nbd.Client;

/// <summary>The error values of NBD replies (proto.md "Error values") as block errors.</summary>
internal static class NbdErrno
{
    internal const uint EPERM = 1, EIO = 5, ENOMEM = 12, EINVAL = 22, ENOSPC = 28, EOVERFLOW = 75, ENOTSUP = 95, ESHUTDOWN = 108;

    internal static BlockError ToBlockError(uint errno) => errno switch
    {
        EPERM => BlockError.ReadOnly,
        EINVAL or EOVERFLOW => BlockError.InvalidArgument,
        ENOSPC => BlockError.NoSpace,
        ENOTSUP => BlockError.NotSupported,
        ESHUTDOWN => BlockError.NotReady,
        _ => BlockError.MediumError,
    };

    internal static string Name(uint errno) => errno switch
    {
        EPERM => "EPERM",
        EIO => "EIO",
        ENOMEM => "ENOMEM",
        EINVAL => "EINVAL",
        ENOSPC => "ENOSPC",
        EOVERFLOW => "EOVERFLOW",
        ENOTSUP => "ENOTSUP",
        ESHUTDOWN => "ESHUTDOWN",
        _ => $"error {errno}",
    };
}
