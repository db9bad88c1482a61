namespace StorSharp.Scsi;

/// <summary>
/// What makes one kind of SCSI device out of the shared device-server machinery of
/// <see cref="ScsiDiskMiniport"/> (task pool, dispatch checks, sense, unit attentions, resets,
/// aborts, PREVENT state): its opcode table, the peripheral device type and command-set version
/// descriptor INQUIRY reports, the VPD pages it has, and a hook that attaches device-specific state
/// to each LU. The SCSI disk is <see cref="Disk"/>; other device types (the MMC optical drive of
/// StorSharp.Optical) bring their own.
/// </summary>
internal sealed class ScsiDeviceModel
{
    /// <summary>The SBC-4 direct-access block device.</summary>
    public static ScsiDeviceModel Disk { get; } = new()
    {
        Commands = DiskCommands.Table,
        PeripheralDeviceType = 0x00,
        CommandSetVersionDescriptor = 0x04C0, // SBC-3
        CopyManager = true,
        VpdPageCodes = null,
    };

    /// <summary>The opcode table dispatch looks CDBs up in.</summary>
    public required ScsiCommandTable Commands { get; init; }

    /// <summary>PERIPHERAL DEVICE TYPE (SPC-4 §6.6.2): 00h disk, 05h CD/DVD device.</summary>
    public required byte PeripheralDeviceType { get; init; }

    /// <summary>The third version descriptor of standard INQUIRY data: the device's command set standard.</summary>
    public required ushort CommandSetVersionDescriptor { get; init; }

    /// <summary>3PC in standard INQUIRY: EXTENDED COPY is served through this device type's LUs.</summary>
    public bool CopyManager { get; init; }

    /// <summary>The VPD pages this device type has, or null for every page the disk has.</summary>
    public byte[]? VpdPageCodes { get; init; }

    /// <summary>Called once for each defined LU as the miniport creates it; the result becomes <see cref="DiskUnit.DeviceState"/>.</summary>
    public Func<DiskUnit, object?>? AttachUnit { get; init; }

    /// <summary>Called for each defined LU when the adapter lets go of its resources.</summary>
    public Action<DiskUnit>? DetachUnit { get; init; }
}
