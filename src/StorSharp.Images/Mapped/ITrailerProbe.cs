namespace StorSharp.Images.Mapped;

/// <summary>
/// A format recognised by the end of the file rather than its start (a fixed VHD is raw data followed by
/// a 512-byte footer). <see cref="DiskImage.DetectAsync"/> offers such formats the file's last
/// <see cref="TrailerLength"/> bytes after no format claimed the head.
/// </summary>
internal interface ITrailerProbe
{
    /// <summary>How many bytes at the end of a file <see cref="ProbeTrailer"/> looks at.</summary>
    const int TrailerLength = 512;

    /// <summary>True when <paramref name="trailer"/> (the file's last bytes) identifies this format. Must not throw.</summary>
    bool ProbeTrailer(ReadOnlySpan<byte> trailer, long fileLength);
}
