namespace StorSharp.Port;

/// <summary>The bus type an adapter reports to the class layer (Windows <c>STORAGE_BUS_TYPE</c>); values match.</summary>
public enum StorageBusType : byte
{
    /// <summary>Unknown.</summary>
    Unknown = 0x00,
    /// <summary>Parallel SCSI.</summary>
    Scsi = 0x01,
    /// <summary>ATAPI.</summary>
    Atapi = 0x02,
    /// <summary>ATA.</summary>
    Ata = 0x03,
    /// <summary>IEEE 1394.</summary>
    Ieee1394 = 0x04,
    /// <summary>SSA.</summary>
    Ssa = 0x05,
    /// <summary>Fibre Channel.</summary>
    Fibre = 0x06,
    /// <summary>USB.</summary>
    Usb = 0x07,
    /// <summary>A RAID controller.</summary>
    Raid = 0x08,
    /// <summary>iSCSI.</summary>
    Iscsi = 0x09,
    /// <summary>Serial attached SCSI.</summary>
    Sas = 0x0A,
    /// <summary>SATA.</summary>
    Sata = 0x0B,
    /// <summary>Secure Digital.</summary>
    Sd = 0x0C,
    /// <summary>MultiMedia Card.</summary>
    Mmc = 0x0D,
    /// <summary>A virtual device.</summary>
    Virtual = 0x0E,
    /// <summary>A virtual device backed by a file.</summary>
    FileBackedVirtual = 0x0F,
    /// <summary>Storage Spaces.</summary>
    Spaces = 0x10,
    /// <summary>NVM Express.</summary>
    Nvme = 0x11,
    /// <summary>Storage class memory.</summary>
    Scm = 0x12,
    /// <summary>Universal Flash Storage.</summary>
    Ufs = 0x13,
    /// <summary>NVMe over fabrics.</summary>
    Nvmeof = 0x14,
}
