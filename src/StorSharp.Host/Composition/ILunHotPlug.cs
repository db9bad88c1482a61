using StorSharp.Host.Configuration;

namespace StorSharp.Host;

/// <summary>
/// A front end that follows LUNs added, removed and resized while the server runs
/// (<see cref="StorSharpHost.AddLunAsync"/>, <see cref="StorSharpHost.RemoveLunAsync"/>,
/// <see cref="StorSharpHost.ResizeLunAsync"/>). The host calls these in order: added once the LU is
/// present on its adapter, removing before the port takes the LU away, resized once the LU has
/// its new capacity.
/// </summary>
public interface ILunHotPlug
{
    /// <summary>Serves <paramref name="lun"/> from now on (iSCSI: in its target's LUN table; NBD: as <paramref name="export"/>, when given).</summary>
    Task LunAddedAsync(ComposedLun lun, NbdExportSettings? export, CancellationToken cancellationToken);

    /// <summary>Stops offering <paramref name="lun"/> to new requests (iSCSI: LOGICAL UNIT NOT SUPPORTED; NBD: the export disappears).</summary>
    Task LunRemovingAsync(ComposedLun lun, CancellationToken cancellationToken);

    /// <summary>Tells clients the LU's capacity changed (iSCSI: an asynchronous event; NBD: new connections see the new size).</summary>
    Task LunResizedAsync(ComposedLun lun, CancellationToken cancellationToken);
}
