namespace StorSharp.Block;

/// <summary>Validation of the sizes a backend is built with, shared by the RAM and file backends.</summary>
internal static class DeviceShape
{
    /// <summary>
    /// Only the two logical block sizes that initiators actually handle: 512 (classic) and 4096
    /// (4Kn). Other sizes exist in SBC-4 but Windows disk.sys and Linux sd refuse most of them.
    /// </summary>
    internal static void ValidateBlockSize(int blockSize, string parameterName)
    {
        if (blockSize is not (512 or 4096))
            throw new ArgumentException($"Logical block size {blockSize} is not supported: use 512 or 4096 bytes.", parameterName);
    }

    /// <summary>Checks a size in bytes is a positive whole number of blocks and returns the block count.</summary>
    internal static long BlockCountOf(long sizeBytes, int blockSize, string parameterName)
    {
        if (sizeBytes <= 0)
            throw new ArgumentOutOfRangeException(parameterName, sizeBytes, "A block device needs at least one block.");
        if (sizeBytes % blockSize != 0)
            throw new ArgumentException(
                $"Size {sizeBytes} bytes is not a whole number of {blockSize}-byte blocks ({sizeBytes % blockSize} bytes left over).",
                parameterName);
        return sizeBytes / blockSize;
    }

    /// <summary>
    /// A read-only device cannot unmap, zero or take FUA writes; like nbdkit, which clears
    /// can_trim/can_zero/can_fua when can_write is false, it does not advertise them.
    /// </summary>
    internal static BlockDeviceCapabilities AsReadOnly(BlockDeviceCapabilities capabilities) =>
        (capabilities | BlockDeviceCapabilities.ReadOnly)
        & ~(BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.UnmapReadsZeroes
            | BlockDeviceCapabilities.WriteZeroes | BlockDeviceCapabilities.ForceUnitAccess);
}
