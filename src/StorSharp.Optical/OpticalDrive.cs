using StorSharp.Block;
using StorSharp.Scsi;

namespace StorSharp.Optical;

/// <summary>
/// One virtual CD/DVD drive: its tray and the disc in it. The management side changes the disc at
/// run time (<see cref="InsertMedia(IBlockDevice, MmcProfile)"/>, <see cref="EjectMedia"/>); hosts
/// see the change the way MMC-6 drives report it: a UNIT ATTENTION NOT READY TO READY CHANGE, MEDIUM
/// MAY HAVE CHANGED (28h/00h) on every I_T nexus after a disc is loaded, and media events (NewMedia,
/// MediaRemoval, EjectRequest) through GET EVENT STATUS NOTIFICATION.
/// </summary>
/// <remarks>
/// A drive object belongs to the caller and outlives adapters: every adapter built from a
/// registration that names it serves the same tray. The drive never disposes an image.
/// </remarks>
public sealed class OpticalDrive
{
    private readonly Lock _lock = new();
    private readonly List<OpticalUnit> _units = [];
    private OpticalDisc? _disc;
    private bool _trayOpen;
    private volatile OpticalDisc? _loaded;

    /// <summary>Creates a drive with its tray closed, loaded with <paramref name="disc"/> or empty.</summary>
    public OpticalDrive(OpticalDisc? disc = null)
    {
        _disc = disc;
        _loaded = disc;
        Slot = new DriveSlot(this);
    }

    /// <summary>The disc in the drive (loaded, or lying in the open tray), or null.</summary>
    public OpticalDisc? Disc { get { lock (_lock) return _disc; } }

    /// <summary>True while the tray is open (after an eject).</summary>
    public bool TrayOpen { get { lock (_lock) return _trayOpen; } }

    /// <summary>The disc the drive can read now: in the drive with the tray closed.</summary>
    public OpticalDisc? LoadedDisc => _loaded;

    /// <summary>True while some host prevents medium removal (PREVENT ALLOW MEDIUM REMOVAL) through any adapter serving this drive.</summary>
    public bool IsRemovalPrevented
    {
        get
        {
            lock (_lock)
                foreach (var u in _units) if (u.Unit.IsRemovalPrevented) return true;
            return false;
        }
    }

    /// <summary>
    /// The block device the SCSI device server reads: the loaded disc's 2048-byte sectors, with a size
    /// of 0 while no disc is loaded. It follows every disc change, is read-only, and disposing it does
    /// nothing (the images belong to the caller).
    /// </summary>
    public IBlockDevice Slot { get; }

    /// <summary>Puts <paramref name="image"/> in the drive and closes the tray (see <see cref="InsertMedia(OpticalDisc)"/>).</summary>
    /// <param name="image">The image's blocks (an ISO file); its block size must divide 2048.</param>
    /// <param name="profile">CD-ROM or DVD-ROM; <see cref="MmcProfile.None"/> chooses by size.</param>
    public void InsertMedia(IBlockDevice image, MmcProfile profile = MmcProfile.None) => InsertMedia(new OpticalDisc(image, profile));

    /// <summary>
    /// Puts <paramref name="disc"/> in the drive, replacing any disc there, and closes the tray:
    /// every I_T nexus gets UNIT ATTENTION 28h/00h and the media event NewMedia (after MediaRemoval
    /// when a loaded disc was replaced).
    /// </summary>
    /// <exception cref="InvalidOperationException">A loaded disc would be replaced while a host prevents its removal.</exception>
    public void InsertMedia(OpticalDisc disc)
    {
        ArgumentNullException.ThrowIfNull(disc);
        lock (_lock)
        {
            if (_loaded is not null && PreventedLocked())
                throw new InvalidOperationException("A host prevents medium removal (PREVENT ALLOW MEDIUM REMOVAL); the loaded disc cannot be replaced.");
            if (_loaded is not null) Post(MediaEventCode.MediaRemoval);
            _disc = disc;
            _trayOpen = false;
            Load();
        }
    }

    /// <summary>
    /// Takes the disc out, leaving the tray open (TEST UNIT READY then reports MEDIUM NOT PRESENT -
    /// TRAY OPEN). While a host prevents medium removal the disc stays and the hosts get the media
    /// event EjectRequest instead (as when a user presses the eject button of a locked drive), unless
    /// <paramref name="force"/>.
    /// </summary>
    /// <param name="force">Eject even while a host prevents removal.</param>
    /// <returns>True when the drive is now empty; false when the eject was refused (locked).</returns>
    public bool EjectMedia(bool force = false)
    {
        lock (_lock)
        {
            if (!force && _loaded is not null && PreventedLocked())
            {
                Post(MediaEventCode.EjectRequest);
                return false;
            }
            if (_loaded is not null) Post(MediaEventCode.MediaRemoval);
            _disc = null;
            _trayOpen = true;
            Sync();
            return true;
        }
    }

    /// <summary>START STOP UNIT with LOEJ and not START: the tray opens; the disc stays on it.</summary>
    internal void HostEject()
    {
        lock (_lock)
        {
            if (_loaded is not null) Post(MediaEventCode.MediaRemoval);
            _trayOpen = true;
            Sync();
        }
    }

    /// <summary>START STOP UNIT with LOEJ and START from <paramref name="loadingNexusId"/>: the tray closes; a disc on it is loaded.</summary>
    internal void HostLoad(long loadingNexusId)
    {
        lock (_lock)
        {
            if (!_trayOpen) return;
            _trayOpen = false;
            Load(loadingNexusId);
        }
    }

    internal OpticalUnit Attach(DiskUnit unit)
    {
        var optical = new OpticalUnit(this, unit);
        lock (_lock)
        {
            _units.Add(optical);
            unit.MediumPresent = _loaded is not null;
            unit.TrayClosed = !_trayOpen;
        }
        return optical;
    }

    internal void Detach(OpticalUnit unit)
    {
        lock (_lock) _units.Remove(unit);
    }

    /// <summary>The tray is closed: a disc on it becomes ready, reported to every I_T nexus but the one that loaded it (none for a management insert).</summary>
    private void Load(long? loadingNexusId = null)
    {
        Sync();
        if (_loaded is null) return;
        Post(MediaEventCode.NewMedia);
        foreach (var u in _units) u.Unit.Nexuses.AddToAll(SenseCodes.NotReadyToReadyChange, loadingNexusId is { } id ? u.Unit.Nexuses.Find(id) : null);
    }

    private void Sync()
    {
        _loaded = _trayOpen ? null : _disc;
        foreach (var u in _units)
        {
            u.Unit.MediumPresent = _loaded is not null;
            u.Unit.TrayClosed = !_trayOpen;
        }
    }

    private void Post(MediaEventCode code)
    {
        foreach (var u in _units) u.Post(code);
    }

    private bool PreventedLocked()
    {
        foreach (var u in _units) if (u.Unit.IsRemovalPrevented) return true;
        return false;
    }
}
