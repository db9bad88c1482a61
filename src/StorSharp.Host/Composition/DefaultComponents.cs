namespace StorSharp.Host;

/// <summary>Wires the real block devices, miniport and front ends into <see cref="HostComponents"/>.</summary>
internal static class DefaultComponents
{
    public static HostComponents Create() => new()
    {
        // TODO(host): wire RamBlockDevice / FileBlockDevice when branch block is in main.
        OpenBlockDevice = _ => throw new HostStartException("this build has no block devices yet (branch block is not merged)"),
        // TODO(host): wire ScsiDiskMiniport when branch scsi is in main.
        CreateDiskMiniport = _ => throw new HostStartException("this build has no SCSI disk miniport yet (branch scsi is not merged)"),
        CreateNbd = null,
        CreateIscsi = null,
    };
}
