namespace StorSharp.Host;

/// <summary>Wires the real block devices (<see cref="LunBackends"/>), miniports (<see cref="LunMiniports"/>) and front ends into <see cref="HostComponents"/>.</summary>
internal static class DefaultComponents
{
    public static HostComponents Create() => new()
    {
        OpenBlockDevice = LunBackends.OpenAsync,
        CreateMiniport = LunMiniports.Create,
        CreateNbd = spec => new NbdFrontEnd(spec),
        CreateIscsi = spec => new IscsiFrontEnd(spec),
    };
}
