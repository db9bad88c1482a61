using Microsoft.Win32.SafeHandles;
using StorSharp.Block;

namespace StorSharp.Images.Mapped;

/// <summary>
/// One open image file: positioned, asynchronous reads and writes through <see cref="RandomAccess"/>.
/// While opening, a short read is a <see cref="DiskImageException"/> naming the structure and offset;
/// during device I/O it is a <see cref="BlockDeviceException"/> (medium error).
/// </summary>
internal sealed class ImageFile : IDisposable
{
    private ImageFile(SafeFileHandle handle, string path, bool readOnly)
    {
        Handle = handle;
        Path = path;
        ReadOnly = readOnly;
    }

    public SafeFileHandle Handle { get; }

    public string Path { get; }

    public bool ReadOnly { get; }

    public long Length => RandomAccess.GetLength(Handle);

    /// <summary>Opens <paramref name="path"/>; read-write opens are exclusive, read-only ones share reading.</summary>
    public static ImageFile Open(string path, bool readOnly)
    {
        var handle = readOnly
            ? File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous)
            : File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous);
        return new ImageFile(handle, path, readOnly);
    }

    /// <summary>An error in the structure <paramref name="structure"/> at <paramref name="offset"/>.</summary>
    public DiskImageException Corrupt(string structure, long offset, string why) =>
        new($"{Path}: {structure} at file offset {offset}: {why}");

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes of a metadata structure while opening.</summary>
    public async ValueTask ReadStructureAsync(long offset, Memory<byte> buffer, string structure, CancellationToken cancellationToken)
    {
        long length = Length;
        if (offset < 0 || offset > length || buffer.Length > length - offset)
            throw Corrupt(structure, offset, $"{buffer.Length} bytes there go past the end of the file ({length} bytes): the image is truncated or the offset is wrong");
        int done = 0;
        try
        {
            while (done < buffer.Length)
            {
                int n = await RandomAccess.ReadAsync(Handle, buffer[done..], offset + done, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw Corrupt(structure, offset, $"the file ended after {done} of {buffer.Length} bytes");
                done += n;
            }
        }
        catch (IOException e)
        {
            throw new DiskImageException($"{Path}: reading {structure} at file offset {offset}: {e.Message}", e);
        }
    }

    /// <summary>Reads guest data; a short read (the file was truncated underneath) is a medium error.</summary>
    public async ValueTask ReadDataAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int done = 0;
        try
        {
            while (done < buffer.Length)
            {
                int n = await RandomAccess.ReadAsync(Handle, buffer[done..], offset + done, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new BlockDeviceException(BlockError.MediumError,
                        $"'{Path}' ended at byte {offset + done} while reading {buffer.Length} bytes at {offset}: the image was truncated");
                done += n;
            }
        }
        catch (IOException e)
        {
            throw new BlockDeviceException(BlockError.MediumError, $"'{Path}': read of {buffer.Length} bytes at {offset} failed: {e.Message}", e);
        }
    }

    /// <summary>Writes <paramref name="buffer"/> at <paramref name="offset"/>; OS failures become medium errors (no space: <see cref="BlockError.NoSpace"/>).</summary>
    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            await RandomAccess.WriteAsync(Handle, buffer, offset, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new BlockDeviceException(IsDiskFull(e) ? BlockError.NoSpace : BlockError.MediumError,
                $"'{Path}': write of {buffer.Length} bytes at {offset} failed: {e.Message}", e);
        }
    }

    /// <summary>Makes everything written so far durable (fsync), off the caller's thread.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Run(() => RandomAccess.FlushToDisk(Handle), cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new BlockDeviceException(BlockError.MediumError, $"'{Path}': flush failed: {e.Message}", e);
        }
    }

    /// <summary>Extends the file with zeros (sparse where the file system allows).</summary>
    public void SetLength(long length)
    {
        try
        {
            RandomAccess.SetLength(Handle, length);
        }
        catch (IOException e)
        {
            throw new BlockDeviceException(IsDiskFull(e) ? BlockError.NoSpace : BlockError.MediumError,
                $"'{Path}': extending the file to {length} bytes failed: {e.Message}", e);
        }
    }

    private static bool IsDiskFull(IOException e) => (e.HResult & 0xFFFF) is 28 or 112; // ENOSPC, ERROR_DISK_FULL

    public void Dispose() => Handle.Dispose();
}
