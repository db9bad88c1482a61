namespace StorSharp.Block;

/// <summary>Turns what the OS and the file APIs throw into <see cref="BlockDeviceException"/>s.</summary>
internal static class FileErrors
{
    /// <summary>ENOSPC: 28 on Linux, macOS and the BSDs alike.</summary>
    private const int UnixNoSpace = 28;

    /// <summary>The exceptions that mean "the file or the OS failed", as opposed to cancellation or our own errors.</summary>
    internal static bool IsOsError(Exception e) => e is IOException or UnauthorizedAccessException or ObjectDisposedException;

    /// <summary>Maps an exception from the file APIs, keeping the OS message and the original as inner exception.</summary>
    internal static BlockDeviceException From(Exception e, string operation, string path)
    {
        BlockError error = e switch
        {
            ObjectDisposedException => BlockError.NotReady,
            IOException io when IsDiskFull(io.HResult) => BlockError.NoSpace,
            _ => BlockError.MediumError,
        };
        return new BlockDeviceException(error, $"{operation} on '{path}' failed: {e.Message}", e);
    }

    /// <summary>Maps an errno returned by a Linux call, with the OS's text for it.</summary>
    internal static BlockDeviceException FromErrno(int errno, string operation, string path)
    {
        BlockError error = errno == UnixNoSpace ? BlockError.NoSpace : BlockError.MediumError;
        return new BlockDeviceException(error,
            $"{operation} on '{path}' failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
    }

    /// <summary>
    /// On Unix .NET puts the raw errno in <see cref="Exception.HResult"/>; on Windows it is an
    /// HRESULT wrapping ERROR_DISK_FULL (0x70) or ERROR_HANDLE_DISK_FULL (0x27).
    /// </summary>
    private static bool IsDiskFull(int hresult) =>
        OperatingSystem.IsWindows()
            ? hresult is unchecked((int)0x80070070) or unchecked((int)0x80070027)
            : hresult == UnixNoSpace;
}
