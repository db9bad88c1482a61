using StorSharp.Block;

namespace StorSharp.Nvme;

/// <summary>
/// An NVMe namespace (Identify Namespace, NVM command set): its size in logical blocks, its one
/// LBA format (data size = the block device's block size, no metadata), and the features the
/// block device gives it. The data lives in an <see cref="IBlockDevice"/>.
/// </summary>
public sealed class NvmeNamespace
{
    /// <summary>Creates namespace <paramref name="namespaceId"/> over <paramref name="device"/>.</summary>
    /// <param name="namespaceId">The namespace identifier, 1 or more.</param>
    /// <param name="device">The block device (512- or 4096-byte blocks). The namespace does not dispose it.</param>
    /// <param name="writeProtected">Refuse writes (Namespace is Write Protected), also when the device could write.</param>
    /// <param name="eui64">The IEEE Extended Unique Identifier (8 bytes); null derives one from the identifier.</param>
    /// <exception cref="ArgumentException">A bad identifier, block size or EUI-64.</exception>
    public NvmeNamespace(uint namespaceId, IBlockDevice device, bool writeProtected = false, byte[]? eui64 = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (namespaceId is 0 or uint.MaxValue) throw new ArgumentException("A namespace identifier is 1 to FFFFFFFEh.", nameof(namespaceId));
        var geometry = device.Geometry;
        if (geometry.LogicalBlockSize is not (512 or 4096)) throw new ArgumentException($"LBA data size {geometry.LogicalBlockSize} is not supported; use 512 or 4096.", nameof(device));
        if (eui64 is not null && eui64.Length != 8) throw new ArgumentException("An EUI-64 is 8 bytes.", nameof(eui64));
        NamespaceId = namespaceId;
        Device = device;
        var caps = device.Capabilities;
        WriteProtected = writeProtected || (caps & BlockDeviceCapabilities.ReadOnly) != 0;
        SupportsDeallocate = (caps & (BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.ThinProvisioned)) != 0;
        DeallocatedReadsZeroes = (caps & BlockDeviceCapabilities.UnmapReadsZeroes) != 0;
        VolatileWriteCache = (caps & BlockDeviceCapabilities.Flush) != 0;
        Eui64 = eui64 ?? [0x02, 0x53, 0x53, 0x4E, 0x56, (byte)(namespaceId >> 16), (byte)(namespaceId >> 8), (byte)namespaceId];
    }

    /// <summary>The namespace identifier (NSID).</summary>
    public uint NamespaceId { get; }

    /// <summary>The block device holding the data.</summary>
    public IBlockDevice Device { get; }

    /// <summary>Namespace size (NSZE) in logical blocks.</summary>
    public long BlockCount => Device.Geometry.BlockCount;

    /// <summary>The LBA data size in bytes (LBAF0.LBADS as bytes).</summary>
    public int BlockSize => Device.Geometry.LogicalBlockSize;

    /// <summary>Writes fail with Namespace is Write Protected.</summary>
    public bool WriteProtected { get; }

    /// <summary>Dataset Management deallocate and Write Zeroes with DEAC are supported (ONCS bit 2; thin or unmap-capable devices).</summary>
    public bool SupportsDeallocate { get; }

    /// <summary>Deallocated blocks read as zeros (DLFEAT bits 2:0 = 001b).</summary>
    public bool DeallocatedReadsZeroes { get; }

    /// <summary>A volatile write cache is present (VWC): Flush matters.</summary>
    public bool VolatileWriteCache { get; }

    /// <summary>The IEEE Extended Unique Identifier (Identify Namespace EUI64).</summary>
    public IReadOnlyList<byte> Eui64 { get; }

    /// <summary>Serializes this namespace's fused Compare + Write pairs.</summary>
    internal NvmeFusedGate FusedGate { get; } = new();
}
