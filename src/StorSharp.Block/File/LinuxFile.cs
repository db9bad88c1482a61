using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace StorSharp.Block;

/// <summary>
/// The Linux calls .NET does not wrap: <c>fallocate(2)</c> to punch holes and zero ranges, and
/// <c>lseek(2)</c> with SEEK_DATA / SEEK_HOLE to map a sparse file. Each returns the errno instead
/// of throwing so the caller can pick a fallback.
/// </summary>
[SupportedOSPlatform("linux")]
internal static partial class LinuxFile
{
    /// <summary>Do not change the file size (needed with PUNCH_HOLE; keeps ZERO_RANGE inside the file).</summary>
    private const int FallocKeepSize = 0x01;
    private const int FallocPunchHole = 0x02;
    private const int FallocZeroRange = 0x10;
    private const int SeekData = 3;
    private const int SeekHole = 4;

    internal const int EINTR = 4;
    internal const int ENXIO = 6;
    internal const int ENOSYS = 38;
    internal const int EOPNOTSUPP = 95;

    /// <summary>Deallocates the byte range; it reads as zeros afterwards. 0 or an errno.</summary>
    internal static int PunchHole(SafeFileHandle file, long offset, long length) =>
        Fallocate(file, FallocPunchHole | FallocKeepSize, offset, length);

    /// <summary>Makes the byte range read as zeros, keeping it allocated (unwritten extents). 0 or an errno.</summary>
    internal static int ZeroRange(SafeFileHandle file, long offset, long length) =>
        Fallocate(file, FallocZeroRange | FallocKeepSize, offset, length);

    /// <summary>True for the errnos that mean "this file system cannot do that", not "it failed".</summary>
    internal static bool IsUnsupported(int errno) => errno is EOPNOTSUPP or ENOSYS;

    /// <summary>The first data byte at or after <paramref name="offset"/>, or -1 with an errno (ENXIO: none before EOF).</summary>
    internal static long NextData(SafeFileHandle file, long offset, out int errno) => Seek(file, offset, SeekData, out errno);

    /// <summary>The first hole byte at or after <paramref name="offset"/> (EOF counts as a hole), or -1 with an errno.</summary>
    internal static long NextHole(SafeFileHandle file, long offset, out int errno) => Seek(file, offset, SeekHole, out errno);

    private static int Fallocate(SafeFileHandle file, int mode, long offset, long length)
    {
        while (true)
        {
            if (FallocateNative(file, mode, offset, length) == 0)
                return 0;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
                return errno;
        }
    }

    private static long Seek(SafeFileHandle file, long offset, int whence, out int errno)
    {
        // The returned position is all we use; pread/pwrite ignore the file offset lseek moves,
        // so concurrent seeks and I/O on the same descriptor do not disturb each other.
        long result = LseekNative(file, offset, whence);
        errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
        return result;
    }

    // off_t is 64-bit on every 64-bit Linux ABI, which is all .NET runs on there.
    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FallocateNative(SafeFileHandle fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LseekNative(SafeFileHandle fd, long offset, int whence);
}
