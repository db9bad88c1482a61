namespace StorSharp.Host.Configuration;

/// <summary>
/// What a file must be to go in a virtual DVD drive as a disc, checked the same way for
/// <c>luns[].path</c> of a <c>device: dvd</c> LUN and for a disc inserted through the management
/// API: an existing file of whole 2048-byte sectors (an ISO 9660 / UDF image always is), at least one.
/// </summary>
internal static class DiscImageFile
{
    /// <summary>The bytes in one CD/DVD data sector.</summary>
    public const int SectorSize = 2048;

    /// <summary>Why <paramref name="fullPath"/> cannot be a disc, or null when it can.</summary>
    /// <param name="fullPath">The file, as an absolute path.</param>
    /// <param name="shown">The path as the user wrote it, for the message.</param>
    public static string? Problem(string fullPath, string shown)
    {
        if (Directory.Exists(fullPath)) return $"{shown} is a directory; name an ISO image file";
        if (!File.Exists(fullPath)) return $"{shown} does not exist";
        var length = new FileInfo(fullPath).Length;
        if (length < SectorSize) return $"{shown} is {length} bytes, smaller than one 2048-byte sector";
        if (length % SectorSize != 0) return $"{shown} is {length} bytes, not a whole number of 2048-byte sectors (an ISO image is; make one with xorriso -as mkisofs)";
        return null;
    }
}
