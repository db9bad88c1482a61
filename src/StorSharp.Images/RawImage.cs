using StorSharp.Block;

namespace StorSharp.Images;

/// <summary>Raw images: the file is the disk, byte for byte (a <see cref="FileBlockDevice"/>).</summary>
public static class RawImage
{
    /// <summary>Opens a raw image. Its length must be a whole number of <see cref="DiskImageOpenOptions.LogicalBlockSize"/> blocks.</summary>
    /// <exception cref="DiskImageException">The file is empty or its length is not a whole number of blocks.</exception>
    public static ValueTask<IBlockDevice> OpenAsync(string path, DiskImageOpenOptions options)
    {
        var length = new FileInfo(path).Length;
        if (length == 0)
            throw new DiskImageException($"{path}: the file is empty (a truncated image?): a disk needs at least one block");
        if (length % options.LogicalBlockSize != 0)
            throw new DiskImageException($"{path}: raw image of {length} bytes is not a whole number of {options.LogicalBlockSize}-byte blocks");
        return ValueTask.FromResult<IBlockDevice>(FileBlockDevice.Open(path, options.LogicalBlockSize, options.ReadOnly));
    }
}
