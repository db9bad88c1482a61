namespace StorSharp.Port;

/// <summary>
/// The <see cref="IVirtualMiniport.AdapterControl"/> answer of a virtual miniport with no hardware
/// behind it (Storport's HwStorAdapterControl): it supports the query, ScsiStopAdapter and
/// ScsiRestartAdapter, and has nothing to do for either; anything else is unsuccessful.
/// </summary>
public static class VirtualAdapterControl
{
    /// <summary>Answers <paramref name="type"/>, filling <paramref name="supported"/> for the query.</summary>
    public static ControlStatus Answer(AdapterControlType type, ISet<AdapterControlType> supported)
    {
        ArgumentNullException.ThrowIfNull(supported);
        switch (type)
        {
            case AdapterControlType.QuerySupportedControlTypes:
                supported.Add(AdapterControlType.QuerySupportedControlTypes);
                supported.Add(AdapterControlType.StopAdapter);
                supported.Add(AdapterControlType.RestartAdapter);
                return ControlStatus.Success;
            case AdapterControlType.StopAdapter:
            case AdapterControlType.RestartAdapter:
                return ControlStatus.Success;
            default:
                return ControlStatus.Unsuccessful;
        }
    }
}
