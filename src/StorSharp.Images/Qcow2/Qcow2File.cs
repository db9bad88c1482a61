using Microsoft.Win32.SafeHandles;
using StorSharp.Block;

namespace StorSharp.Images.Qcow2;

/// <summary>
/// The open qcow2 file: exact reads and writes at explicit offsets through <see cref="RandomAccess"/>
/// (no shared file position, no thread blocked), flushes off the caller's thread, and errors turned
/// into <see cref="BlockDeviceException"/> naming the file, the structure and the offset.
/// </summary>
internal sealed class Qcow2File : IDisposable
{
    private readonly SafeFileHandle _handle;

    internal Qcow2File(SafeFileHandle handle, string path)
    {
        _handle = handle;
        Path = path;
    }

    internal string Path { get; }

    internal SafeFileHandle Handle => _handle;

    internal long Length => RandomAccess.GetLength(_handle);

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>; a short read is a truncated image.</summary>
    internal async ValueTask ReadExactAsync(Memory<byte> buffer, long offset, string what, CancellationToken cancellationToken)
    {
        long start = offset;
        try
        {
            while (!buffer.IsEmpty)
            {
                int n = await RandomAccess.ReadAsync(_handle, buffer, offset, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw Corrupt($"{what} at offset 0x{start:X} is past the end of the file (truncated image: {Length} bytes)");
                buffer = buffer[n..];
                offset += n;
            }
        }
        catch (IOException e)
        {
            throw new BlockDeviceException(BlockError.MediumError, $"{Path}: reading {what} at offset 0x{start:X} failed: {e.Message}", e);
        }
    }

    /// <summary>Writes <paramref name="buffer"/> at <paramref name="offset"/>.</summary>
    internal async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, long offset, string what, CancellationToken cancellationToken)
    {
        try
        {
            await RandomAccess.WriteAsync(_handle, buffer, offset, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            BlockError error = e.HResult is 28 or unchecked((int)0x80070070) ? BlockError.NoSpace : BlockError.MediumError;
            throw new BlockDeviceException(error, $"{Path}: writing {what} at offset 0x{offset:X} failed: {e.Message}", e);
        }
    }

    /// <summary>Makes every completed write durable (fsync), on a thread-pool thread.</summary>
    internal async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Run(() => RandomAccess.FlushToDisk(_handle), cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new BlockDeviceException(BlockError.MediumError, $"{Path}: flush failed: {e.Message}", e);
        }
    }

    /// <summary>A corrupt structure found while serving I/O: a medium error carrying a <see cref="DiskImageException"/>.</summary>
    internal BlockDeviceException Corrupt(string message) =>
        new(BlockError.MediumError, $"{Path}: qcow2 {message}", new DiskImageException($"{Path}: qcow2 {message}"));

    public void Dispose() => _handle.Dispose();
}
