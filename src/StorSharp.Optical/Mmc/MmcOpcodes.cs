namespace StorSharp.Optical;

/// <summary>MMC-6 operation codes this device serves beyond the SPC/SBC ones in <see cref="Scsi.ScsiOpcodes"/>. Values are the wire values.</summary>
public static class MmcOpcodes
{
#pragma warning disable CS1591 // the names are the standard's names; each is documented by its value
    public const byte ReadTocPmaAtip = 0x43;
    public const byte GetConfiguration = 0x46;
    public const byte GetEventStatusNotification = 0x4A;
    public const byte ReadDiscInformation = 0x51;
    public const byte ReadTrackInformation = 0x52;
    public const byte GetPerformance = 0xAC;
    public const byte ReadDiscStructure = 0xAD;
    public const byte SetCdSpeed = 0xBB;
    public const byte MechanismStatus = 0xBD;
    public const byte ReadCd = 0xBE;
#pragma warning restore CS1591
}
