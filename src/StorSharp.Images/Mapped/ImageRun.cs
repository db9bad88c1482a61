namespace StorSharp.Images.Mapped;

/// <summary>What a run of guest bytes maps to in an image.</summary>
internal enum ImageRunKind
{
    /// <summary>Stored in <see cref="ImageRun.File"/> at <see cref="ImageRun.FileOffset"/>, byte for byte.</summary>
    Data,
    /// <summary>Not stored: reads as zeros because the image says so (VHDX ZERO block, VMDK zeroed grain, ZERO extent).</summary>
    Zero,
    /// <summary>Not allocated and no backing image: reads as zeros, a write allocates.</summary>
    Unallocated,
    /// <summary>Not allocated here: read from the backing (parent) image at the same offset.</summary>
    Backing,
    /// <summary>Stored compressed (VMDK streamOptimized grain); the format decompresses it.</summary>
    Compressed,
}

/// <summary>A run of guest bytes with one mapping, as a format's table lookup returns it.</summary>
/// <param name="Kind">Where the bytes are.</param>
/// <param name="Length">How many guest bytes the run covers (a positive multiple of 512).</param>
/// <param name="File">For <see cref="ImageRunKind.Data"/> and <see cref="ImageRunKind.Compressed"/>: the file holding them.</param>
/// <param name="FileOffset">For <see cref="ImageRunKind.Data"/>: the file offset of the run's first byte; for <see cref="ImageRunKind.Compressed"/>: the grain's marker.</param>
/// <param name="OffsetInUnit">For <see cref="ImageRunKind.Compressed"/>: where the run starts inside the compressed grain.</param>
internal readonly record struct ImageRun(ImageRunKind Kind, long Length, ImageFile? File = null, long FileOffset = 0, long OffsetInUnit = 0);
