namespace StorSharp.Class;

/// <summary>
/// The SCSI operation codes the class layer sends (SPC-5, SBC-4). Values are the wire values;
/// a test pins them so they never drift.
/// </summary>
public enum ScsiOpcode : byte
{
    /// <summary>TEST UNIT READY (SPC-5 §6.47).</summary>
    TestUnitReady = 0x00,
    /// <summary>INQUIRY (SPC-5 §6.7).</summary>
    Inquiry = 0x12,
    /// <summary>MODE SENSE(6) (SPC-5 §6.14).</summary>
    ModeSense6 = 0x1A,
    /// <summary>READ CAPACITY(10) (SBC-4 §5.20).</summary>
    ReadCapacity10 = 0x25,
    /// <summary>UNMAP (SBC-4 §5.32).</summary>
    Unmap = 0x42,
    /// <summary>READ(16) (SBC-4 §5.16).</summary>
    Read16 = 0x88,
    /// <summary>WRITE(16) (SBC-4 §5.43).</summary>
    Write16 = 0x8A,
    /// <summary>PRE-FETCH(16) (SBC-4 §5.10).</summary>
    PreFetch16 = 0x90,
    /// <summary>SYNCHRONIZE CACHE(16) (SBC-4 §5.29).</summary>
    SynchronizeCache16 = 0x91,
    /// <summary>WRITE SAME(16) (SBC-4 §5.50).</summary>
    WriteSame16 = 0x93,
    /// <summary>SERVICE ACTION IN(16): READ CAPACITY(16) and GET LBA STATUS are its service actions.</summary>
    ServiceActionIn16 = 0x9E,
}

/// <summary>Service actions of <see cref="ScsiOpcode.ServiceActionIn16"/> (SBC-4 table 51).</summary>
public enum ServiceActionIn16 : byte
{
    /// <summary>READ CAPACITY(16) (SBC-4 §5.21).</summary>
    ReadCapacity16 = 0x10,
    /// <summary>GET LBA STATUS(16) (SBC-4 §5.6).</summary>
    GetLbaStatus = 0x12,
}

/// <summary>Vital product data pages the class layer reads (SPC-5 §7.7, SBC-4 §6.6).</summary>
public enum VpdPage : byte
{
    /// <summary>Supported VPD pages.</summary>
    SupportedPages = 0x00,
    /// <summary>Unit serial number.</summary>
    UnitSerialNumber = 0x80,
    /// <summary>Device identification.</summary>
    DeviceIdentification = 0x83,
    /// <summary>Block limits (SBC-4 §6.6.3): transfer, unmap and write-same limits.</summary>
    BlockLimits = 0xB0,
    /// <summary>Block device characteristics (SBC-4 §6.6.2): medium rotation rate.</summary>
    BlockDeviceCharacteristics = 0xB1,
    /// <summary>Logical block provisioning (SBC-4 §6.6.4): LBPU, LBPWS, LBPRZ.</summary>
    LogicalBlockProvisioning = 0xB2,
}
