using StorSharp.Block;

namespace StorSharp.Images;

/// <summary>
/// Opens disk image files as block devices: finds the format from the file's first bytes (or takes the
/// one named), then lets that <see cref="IDiskImageFormat"/> check and open it. Files no format claims
/// are raw.
/// </summary>
public static class DiskImage
{
    /// <summary>How many bytes of a file are read to recognise its format (VHDX's signature and VMDK's
    /// descriptor are within the first 64 KiB; a fixed VHD is recognised by its footer, which the format
    /// reads itself from the end of the file).</summary>
    public const int ProbeLength = 64 * 1024;

    /// <summary>The known formats, in probing order. Raw is not in the list: it is what remains.</summary>
    public static IReadOnlyList<IDiskImageFormat> Formats { get; } =
    [
        // Each format adds itself here, one line each.
        Qcow2.Qcow2Format.Instance,
        new Vhd.VhdFormat(),
        new Vhdx.VhdxFormat(),
        new Vmdk.VmdkFormat(),
    ];

    /// <summary>The format names accepted by <see cref="OpenAsync(string, string, DiskImageOpenOptions, CancellationToken)"/>: <c>auto</c>, <c>raw</c> and each format's name.</summary>
    public static IEnumerable<string> FormatNames => new[] { "auto", "raw" }.Concat(Formats.Select(f => f.Name));

    /// <summary>Opens <paramref name="path"/>, recognising its format.</summary>
    /// <exception cref="DiskImageException">The image is corrupt, truncated or unsupported.</exception>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    public static ValueTask<IBlockDevice> OpenAsync(string path, DiskImageOpenOptions options, CancellationToken cancellationToken = default) =>
        OpenAsync(path, "auto", options, cancellationToken);

    /// <summary>Opens <paramref name="path"/> as <paramref name="format"/> (<c>auto</c> to recognise it).</summary>
    /// <exception cref="ArgumentException"><paramref name="format"/> is not a known format name.</exception>
    /// <exception cref="DiskImageException">The image is corrupt, truncated, unsupported, or not of the format named.</exception>
    public static async ValueTask<IBlockDevice> OpenAsync(string path, string format, DiskImageOpenOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        options = options.OpenBacking is null ? options with { OpenBacking = OpenBackingDefault } : options;
        var detected = await DetectAsync(path, cancellationToken).ConfigureAwait(false);
        if (format is "auto") return await OpenAsAsync(path, detected, options, cancellationToken).ConfigureAwait(false);
        if (format is not "raw" && !Formats.Any(f => f.Name == format))
            throw new ArgumentException($"'{format}' is not a disk image format; use {string.Join(", ", FormatNames)}", nameof(format));
        var named = Formats.FirstOrDefault(f => f.Name == format);
        if (named != detected)
            throw new DiskImageException($"{path}: is {(detected?.Name ?? "raw")} by its contents, not {format}");
        return await OpenAsAsync(path, named, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The format <paramref name="path"/> is in, or null for raw.</summary>
    public static async ValueTask<IDiskImageFormat?> DetectAsync(string path, CancellationToken cancellationToken = default)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
        var length = RandomAccess.GetLength(handle);
        var head = new byte[(int)Math.Min(ProbeLength, length)];
        var read = 0;
        while (read < head.Length)
        {
            var n = await RandomAccess.ReadAsync(handle, head.AsMemory(read), read, cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            read += n;
        }
        foreach (var f in Formats)
            if (f.Probe(head.AsSpan(0, read), length)) return f;
        if (length < Mapped.ITrailerProbe.TrailerLength) return null;
        var tail = new byte[Mapped.ITrailerProbe.TrailerLength];
        long tailOffset = (length - tail.Length) / 512 * 512;
        if (await RandomAccess.ReadAsync(handle, tail, tailOffset, cancellationToken).ConfigureAwait(false) != tail.Length) return null;
        return Formats.FirstOrDefault(f => f is Mapped.ITrailerProbe t && t.ProbeTrailer(tail, length));
    }

    private static ValueTask<IBlockDevice> OpenAsAsync(string path, IDiskImageFormat? format, DiskImageOpenOptions options, CancellationToken cancellationToken) =>
        format is null ? RawImage.OpenAsync(path, options) : format.OpenAsync(path, options, cancellationToken);

    private static ValueTask<IBlockDevice> OpenBackingDefault(string path, DiskImageOpenOptions options, CancellationToken cancellationToken) =>
        OpenAsync(path, options with { ReadOnly = true }, cancellationToken);
}
