using StorSharp.Block;

namespace StorSharp.Optical;

/// <summary>The MMC profiles a virtual disc can present (MMC-6 §5.3.1, GET CONFIGURATION's current profile).</summary>
public enum MmcProfile : ushort
{
    /// <summary>No current profile: no disc is loaded.</summary>
    None = 0x0000,
    /// <summary>CD-ROM (0008h): a read-only CD.</summary>
    CdRom = 0x0008,
    /// <summary>DVD-ROM (0010h): a read-only DVD.</summary>
    DvdRom = 0x0010,
}

/// <summary>
/// A disc image as the drive reads it: 2048-byte user data blocks (one CD Mode 1 / DVD sector each)
/// over any block device whose block size divides 2048 (an ISO file through a 512-byte file
/// device, or a 2048-byte device), one data track, read-only.
/// </summary>
public sealed class OpticalDisc
{
    /// <summary>The user data bytes in one sector.</summary>
    public const int SectorSize = 2048;

    /// <summary>
    /// The largest image presented as a CD-ROM when the profile is chosen automatically: 360 000
    /// sectors (737 280 000 bytes), an 80-minute CD. Larger images are DVD-ROMs.
    /// </summary>
    public const long MaxCdSectors = 360_000;

    /// <summary>Wraps <paramref name="image"/> as a disc.</summary>
    /// <param name="image">The image's blocks; its block size must divide 2048. The disc does not dispose it.</param>
    /// <param name="profile">CD-ROM or DVD-ROM; <see cref="MmcProfile.None"/> chooses by size (<see cref="MaxCdSectors"/>).</param>
    /// <exception cref="ArgumentException">The block size does not divide 2048, or the image holds no whole sector.</exception>
    public OpticalDisc(IBlockDevice image, MmcProfile profile = MmcProfile.None)
    {
        ArgumentNullException.ThrowIfNull(image);
        var g = image.Geometry;
        if (g.LogicalBlockSize <= 0 || g.LogicalBlockSize > SectorSize || SectorSize % g.LogicalBlockSize != 0)
            throw new ArgumentException($"A disc image needs a block size that divides {SectorSize}; this device has {g.LogicalBlockSize}-byte blocks.", nameof(image));
        Image = image;
        BlocksPerSector = SectorSize / g.LogicalBlockSize;
        Sectors = g.BlockCount / BlocksPerSector;
        if (Sectors == 0) throw new ArgumentException($"The image is smaller than one {SectorSize}-byte sector.", nameof(image));
        Profile = profile != MmcProfile.None ? profile : Sectors <= MaxCdSectors ? MmcProfile.CdRom : MmcProfile.DvdRom;
    }

    /// <summary>The image behind the disc.</summary>
    public IBlockDevice Image { get; }

    /// <summary>The number of 2048-byte sectors (a trailing partial sector of the image is not readable).</summary>
    public long Sectors { get; }

    /// <summary>The profile the drive reports while this disc is loaded.</summary>
    public MmcProfile Profile { get; }

    /// <summary>Image blocks per sector.</summary>
    internal int BlocksPerSector { get; }

    /// <summary>Reads whole sectors starting at <paramref name="sector"/>.</summary>
    internal ValueTask ReadAsync(long sector, Memory<byte> buffer, CancellationToken cancellationToken) =>
        Image.ReadAsync(sector * BlocksPerSector, buffer, cancellationToken);
}
