namespace StorSharp.Images.Mapped;

/// <summary>Writes runs of zeros into an image file from one shared, never-written buffer.</summary>
internal static class ZeroFill
{
    private static readonly byte[] Zeros = new byte[1 << 20];

    public static async ValueTask WriteAsync(ImageFile file, long offset, long length, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            int n = (int)Math.Min(length, Zeros.Length);
            await file.WriteAsync(offset, Zeros.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            offset += n;
            length -= n;
        }
    }
}
