using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Optical;

/// <summary>
/// Builds virtual miniports that serve CD/DVD drives (peripheral device type 05h, MMC-6) over disc
/// images. The drives run on the SCSI disk miniport's device server (<see cref="ScsiDiskMiniport"/>:
/// its task pool, dispatch checks, sense, unit attentions, resets and aborts) with the MMC opcode
/// table (<see cref="Commands"/>), so everything the disk documents about sense, residuals, unit
/// attentions and resets holds for the drives too.
/// </summary>
/// <example>
/// <code>
/// var drive = new OpticalDrive(new OpticalDisc(isoDevice));
/// var adapter = await port.AddAdapterAsync(OpticalMiniport.CreateRegistration([new OpticalDriveDefinition(new ScsiAddress(0, 0, 0), drive)]));
/// drive.EjectMedia();            // later, from the management side
/// drive.InsertMedia(otherIso);   // hosts get UNIT ATTENTION 28h/00h and the NewMedia event
/// </code>
/// </example>
public static class OpticalMiniport
{
    /// <summary>The MMC-6 version descriptor (no version claimed) reported in standard INQUIRY data.</summary>
    public const ushort Mmc6VersionDescriptor = 0x04E0;

    /// <summary>The VPD pages a drive has: supported pages, unit serial number, device identification.</summary>
    private static readonly byte[] s_vpdPages = [0x00, 0x80, 0x83];

    /// <summary>The opcode table of a drive: every command it serves.</summary>
    public static ScsiCommandTable Commands => MmcCommands.Table;

    /// <summary>Makes the registration record for <see cref="StoragePort.AddAdapterAsync"/>: every adapter it creates serves <paramref name="drives"/>.</summary>
    /// <param name="drives">The drives; addresses must be unique, and a drive object may appear once.</param>
    /// <param name="options">Adapter-wide settings (bus type, maximum transfer, queue depth, descriptor sense, power-on unit attention).</param>
    /// <param name="name">The miniport's name in events and listings.</param>
    /// <exception cref="ArgumentException">Two drives share an address or a drive object.</exception>
    public static VirtualMiniportRegistration CreateRegistration(IEnumerable<OpticalDriveDefinition> drives, ScsiDiskMiniportOptions? options = null, string name = "Optical")
    {
        ArgumentNullException.ThrowIfNull(drives);
        var list = drives.ToArray();
        foreach (var d in list) ArgumentNullException.ThrowIfNull(d?.Drive);
        if (list.Select(d => d.Drive).Distinct().Count() != list.Length)
            throw new ArgumentException("The same drive object is defined twice.", nameof(drives));
        _ = CreateMiniport(list, options, validateOnly: true);
        return new VirtualMiniportRegistration
        {
            Name = name,
            CreateMiniport = () => CreateMiniport(list, options, validateOnly: false),
            TaggedQueuing = true,
            MultipleRequestPerLu = true,
            AutoRequestSense = true,
        };
    }

    /// <summary>Creates one miniport serving <paramref name="drives"/> (what the registration does for each adapter).</summary>
    /// <param name="drives">The drives.</param>
    /// <param name="options">Adapter-wide settings.</param>
    public static IVirtualMiniport Create(IEnumerable<OpticalDriveDefinition> drives, ScsiDiskMiniportOptions? options = null) =>
        CreateMiniport([.. drives], options, validateOnly: false);

    private static ScsiDiskMiniport CreateMiniport(OpticalDriveDefinition[] drives, ScsiDiskMiniportOptions? options, bool validateOnly)
    {
        var byAddress = new Dictionary<ScsiAddress, OpticalDrive>();
        foreach (var d in drives)
            if (!byAddress.TryAdd(d.Address, d.Drive)) throw new ArgumentException($"Two drives are defined at {d.Address}.", nameof(drives));
        var model = new ScsiDeviceModel
        {
            Commands = MmcCommands.Table,
            PeripheralDeviceType = 0x05,
            CommandSetVersionDescriptor = Mmc6VersionDescriptor,
            VpdPageCodes = s_vpdPages,
            // A validation pass must not attach throw-away units to the drives.
            AttachUnit = validateOnly ? null : unit => byAddress[unit.Address].Attach(unit),
            DetachUnit = validateOnly ? null : unit => ((OpticalUnit)unit.DeviceState!).Drive.Detach((OpticalUnit)unit.DeviceState!),
        };
        var disks = drives.Select(d => new ScsiDiskDefinition(d.Address, d.Drive.Slot)
        {
            VendorId = d.VendorId,
            ProductId = d.ProductId,
            ProductRevision = d.ProductRevision,
            SerialNumber = d.SerialNumber,
            Removable = true,
            ReadOnly = true,
        });
        return new ScsiDiskMiniport(disks, options, model);
    }
}
