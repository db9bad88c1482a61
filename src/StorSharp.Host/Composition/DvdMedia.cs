using System.Globalization;
using StorSharp.Block;
using StorSharp.Host.Configuration;
using StorSharp.Optical;
using StorSharp.Port;

namespace StorSharp.Host;

/// <summary>
/// The disc side of a <c>device: dvd</c> LUN: its <see cref="OpticalDrive"/> (tray and disc), the ISO
/// image files the host opened for it, and which one is in the drive. The management API changes the
/// disc through it (<c>storsharp media insert</c> / <c>eject</c>); the drive tells the hosts (UNIT
/// ATTENTION 28h/00h, GET EVENT STATUS NOTIFICATION media events) and the event log records it
/// (events 1070, 1071, 1072).
/// </summary>
/// <remarks>
/// A request already running when the disc changes finishes on the disc it started on, so an image
/// taken out is closed only once the LU has no request outstanding (or when the host stops).
/// Changes are made one at a time.
/// </remarks>
public sealed class DvdMedia : IAsyncDisposable
{
    private readonly LunSettings _settings;
    private readonly Func<string, CancellationToken, ValueTask<IBlockDevice>> _open;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _lock = new();
    private readonly List<IBlockDevice> _retired = [];
    private readonly CancellationTokenSource _stopping = new();
    private Inserted? _current;

    /// <summary>A disc the host put in the drive: the drive's disc object, its image and the file it came from.</summary>
    private sealed record Inserted(OpticalDisc Disc, IBlockDevice Image, string Path);

    private DvdMedia(LunSettings settings, OpticalDrive drive, Inserted? current, Func<string, CancellationToken, ValueTask<IBlockDevice>> open)
    {
        _settings = settings;
        Drive = drive;
        _current = current;
        _open = open;
    }

    /// <summary>
    /// The drive of <paramref name="lun"/>, loaded with <paramref name="image"/> (its configured disc)
    /// or empty (<c>backend: none</c>). Discs inserted later are opened with <paramref name="openBlockDevice"/>
    /// as a configured <c>backend: file</c> disc would be: read-only, byte for byte.
    /// </summary>
    /// <exception cref="ArgumentException">The image holds no whole 2048-byte sector, or its block size does not divide 2048.</exception>
    internal static DvdMedia Create(LunSettings lun, IBlockDevice? image, Func<LunSettings, CancellationToken, ValueTask<IBlockDevice>> openBlockDevice)
    {
        Inserted? current = null;
        if (image is not null)
        {
            var disc = new OpticalDisc(image);
            current = new Inserted(disc, image, lun.Path ?? "");
        }
        var drive = new OpticalDrive(current?.Disc);
        var asFile = lun with { Backend = LunBackend.File, Format = "auto", SizeBytes = null, Create = false, ReadOnly = true, BlockSize = 512, Thin = true };
        return new DvdMedia(lun, drive, current, (path, ct) => openBlockDevice(asFile with { Path = path }, ct));
    }

    /// <summary>The drive: what the optical miniport serves.</summary>
    public OpticalDrive Drive { get; }

    /// <summary>The file of the disc in the drive (loaded, or lying in the tray a host opened), or null when there is none.</summary>
    public string? DiscPath
    {
        get
        {
            var current = Volatile.Read(ref _current);
            return current is not null && ReferenceEquals(Drive.Disc, current.Disc) ? current.Path : null;
        }
    }

    /// <summary>The drive's state as the management API shows it.</summary>
    internal DvdMediaState State()
    {
        var disc = Drive.Disc;
        return new DvdMediaState(
            Tray: Drive.TrayOpen ? "open" : "closed",
            Loaded: Drive.LoadedDisc is not null,
            Disc: DiscPath,
            SizeBytes: disc is null ? 0 : disc.Sectors * OpticalDisc.SectorSize,
            Profile: disc?.Profile switch { MmcProfile.CdRom => "cd-rom", MmcProfile.DvdRom => "dvd-rom", _ => null },
            Locked: Drive.IsRemovalPrevented);
    }

    /// <summary>
    /// Puts the ISO at <paramref name="path"/> in the drive and closes the tray, replacing the disc
    /// there unless a host has locked it in: every I_T nexus gets UNIT ATTENTION 28h/00h, event 1070 is logged.
    /// </summary>
    /// <exception cref="LunChangeException">Invalid (<c>path</c>) when the file cannot be opened as a disc; Conflict when a host locked the loaded disc. Nothing changed then.</exception>
    internal async Task InsertAsync(string path, LogicalUnit unit, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Drive.LoadedDisc is not null && Drive.IsRemovalPrevented) throw LockedForInsert();
            IBlockDevice image;
            try
            {
                image = await _open(path, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or BlockDeviceException or ArgumentException)
            {
                throw new LunChangeException(LunChangeRefusal.Invalid, "path", $"cannot open {path}: {e.Message}");
            }
            Inserted inserted;
            try
            {
                inserted = new Inserted(new OpticalDisc(image), image, path);
                Drive.InsertMedia(inserted.Disc);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                await image.DisposeAsync().ConfigureAwait(false);
                throw e is InvalidOperationException ? LockedForInsert() : new LunChangeException(LunChangeRefusal.Invalid, "path", $"{path}: {e.Message}");
            }
            var previous = Interlocked.Exchange(ref _current, inserted);
            if (previous is not null) Retire(previous.Image, unit);
            var size = inserted.Disc.Sectors * OpticalDisc.SectorSize;
            Log(unit, StorageEventIds.MediaInserted, EventLevel.Information,
                $"A disc ({path}, {size} bytes) was inserted in {Name} ({unit.Address} on {unit.Adapter.DeviceName}) by management{(previous is null ? "" : $", replacing {previous.Path}")}.",
                ("Path", path), ("SizeBytes", size.ToString(CultureInfo.InvariantCulture)));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Takes the disc out and leaves the tray open (hosts then read MEDIUM NOT PRESENT - TRAY OPEN),
    /// event 1071. While a host prevents medium removal the disc stays, the hosts get the media event
    /// EjectRequest (as when the eject button of a locked drive is pressed), event 1072 is logged and
    /// the request is refused, unless <paramref name="force"/> (the emergency eject of a real drive).
    /// Ejecting an empty drive opens its tray.
    /// </summary>
    /// <exception cref="LunChangeException">Conflict (<c>force</c>) when a host locked the disc in and <paramref name="force"/> is false.</exception>
    internal async Task EjectAsync(bool force, LogicalUnit unit, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var locked = Drive.IsRemovalPrevented;
            if (!Drive.EjectMedia(force))
            {
                Log(unit, StorageEventIds.MediaEjectRefused, EventLevel.Warning,
                    $"The disc in {Name} ({unit.Address} on {unit.Adapter.DeviceName}) was not ejected: a host prevents medium removal. The hosts were sent an eject request.",
                    ("Path", DiscPath ?? ""));
                throw new LunChangeException(LunChangeRefusal.Conflict, "force",
                    $"{Name}: a host has locked the disc in the drive (PREVENT ALLOW MEDIUM REMOVAL), so it stays; the hosts were sent an eject request (GET EVENT STATUS NOTIFICATION EjectRequest) and may unlock and eject it themselves. Use force (storsharp media eject --force) to take it out anyway.");
            }
            if (Interlocked.Exchange(ref _current, null) is { } taken)
            {
                Retire(taken.Image, unit);
                Log(unit, StorageEventIds.MediaEjected, EventLevel.Information,
                    $"The disc ({taken.Path}) was ejected from {Name} ({unit.Address} on {unit.Adapter.DeviceName}) by management{(force && locked ? " with force, although a host prevented its removal" : "")}.",
                    ("Path", taken.Path), ("Forced", (force && locked) ? "true" : "false"));
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes every image (call after the adapter serving the drive has stopped).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        List<IBlockDevice> images;
        lock (_lock)
        {
            images = [.. _retired];
            _retired.Clear();
        }
        if (Interlocked.Exchange(ref _current, null) is { } current) images.Add(current.Image);
        foreach (var image in images) await image.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _gate.Dispose();
    }

    private string Name => $"LUN {_settings.Number} of {_settings.Target}";

    private LunChangeException LockedForInsert() => new(LunChangeRefusal.Conflict, "lun",
        $"{Name}: a host has locked the disc in the drive (PREVENT ALLOW MEDIUM REMOVAL); eject it first (storsharp media eject --force takes it out anyway)");

    /// <summary>Closes <paramref name="image"/> once no request that may be reading it is outstanding on <paramref name="unit"/>.</summary>
    private void Retire(IBlockDevice image, LogicalUnit unit)
    {
        lock (_lock) _retired.Add(image);
        _ = CloseWhenIdleAsync(image, unit);
    }

    private async Task CloseWhenIdleAsync(IBlockDevice image, LogicalUnit unit)
    {
        try
        {
            while (unit.OutstandingCount > 0) await Task.Delay(50, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // DisposeAsync closes it.
        }
        lock (_lock)
            if (!_retired.Remove(image)) return;
        try
        {
            await image.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or BlockDeviceException)
        {
            // Closing a read-only file has nothing to lose.
        }
    }

    private void Log(LogicalUnit unit, int id, EventLevel level, string message, params (string Key, string Value)[] data)
    {
        unit.Adapter.Log(id, level, message,
            [("Address", unit.Address.ToString()), ("Target", _settings.Target), ("Lun", _settings.Number.ToString(CultureInfo.InvariantCulture)), .. data]);
    }
}

/// <summary>A virtual DVD drive's state as the management API shows it (<c>GET /v1/luns/{target}/{lun}/media</c>, and <c>media</c> in the LUN listing).</summary>
/// <param name="Tray"><c>open</c> or <c>closed</c>.</param>
/// <param name="Loaded">True when hosts can read a disc: one is in the drive and the tray is closed.</param>
/// <param name="Disc">The disc's file, or null when there is none.</param>
/// <param name="SizeBytes">The disc's readable size (whole 2048-byte sectors); 0 without a disc.</param>
/// <param name="Profile"><c>cd-rom</c> or <c>dvd-rom</c> (the MMC profile the drive reports for the disc), or null.</param>
/// <param name="Locked">True while a host prevents medium removal (PREVENT ALLOW MEDIUM REMOVAL).</param>
internal sealed record DvdMediaState(string Tray, bool Loaded, string? Disc, long SizeBytes, string? Profile, bool Locked);
