using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using StorSharp.Block;
using StorSharp.Images.Mapped;

namespace StorSharp.Images.Vmdk;

/// <summary>
/// A hosted sparse extent (monolithicSparse, twoGbMaxExtentSparse, streamOptimized): the grain
/// directory (GD) points to grain tables (GT), whose entries are the sectors of grains. Every grain
/// table entry is held in memory (4 bytes per grain, at most 256 MiB; checked at open).
/// </summary>
/// <remarks>
/// Allocation order (crash consistency): a new grain goes at the end of the file: (1) the whole grain
/// is written (guest data, the rest zeros or the parent's data); (2) fsync; (3) the entry in the primary
/// grain table, then (4) in the redundant one. Each entry is 4 aligned bytes inside one sector. A crash
/// before (3) leaves an unreferenced grain at the end (leaked space, contents unchanged); between (3) and
/// (4) the redundant table is one entry behind, which readers ignore as long as the primary is valid.
/// </remarks>
internal sealed class VmdkSparseExtent : IDisposable
{
    private const int MarkerHeader = 12; // lba (8) + compressed size (4)
    private const long MaxGrains = 64L << 20;
    private readonly VmdkSparseHeader _header;
    private readonly uint[] _grains;
    private readonly uint[] _gtSectors;
    private readonly uint[]? _redundantGtSectors;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private long _cachedGrain = -1;
    private byte[]? _cache;

    private VmdkSparseExtent(ImageFile file, VmdkSparseHeader header, uint[] grains, uint[] gtSectors, uint[]? redundantGtSectors)
    {
        File = file;
        _header = header;
        _grains = grains;
        _gtSectors = gtSectors;
        _redundantGtSectors = redundantGtSectors;
        GrainBytes = (long)header.GrainSize * 512;
    }

    public ImageFile File { get; }

    public VmdkSparseHeader Header => _header;

    public long GrainBytes { get; }

    public long SizeBytes => (long)_header.Capacity * 512;

    /// <summary>Compressed (streamOptimized) extents are read-only.</summary>
    public bool Compressed => _header.Compressed;

    /// <summary>True when every grain table exists, so a write never has to create one.</summary>
    public bool AllGrainTablesPresent => Array.TrueForAll(_gtSectors, s => s != 0) && (_redundantGtSectors is null || Array.TrueForAll(_redundantGtSectors, s => s != 0));

    /// <summary>Reads the header (at offset 0, or the footer copy for streamOptimized), the GD(s) and every GT.</summary>
    public static async ValueTask<VmdkSparseExtent> OpenAsync(ImageFile file, CancellationToken cancellationToken)
    {
        long length = file.Length;
        var buffer = new byte[VmdkSparseHeader.Length];
        await file.ReadStructureAsync(0, buffer, "VMDK sparse header", cancellationToken).ConfigureAwait(false);
        var header = VmdkSparseHeader.TryParse(buffer, out string error) ?? throw file.Corrupt("VMDK sparse header", 0, error);
        long headerAt = 0;
        if (header.GdOffset == VmdkSparseHeader.GdAtEnd)
        {
            // streamOptimized: the real header is the footer, 1024 bytes before the end (then the end-of-stream marker).
            headerAt = length - 1024;
            if (headerAt < 512)
                throw file.Corrupt("VMDK footer", Math.Max(0, headerAt), "the file is too short for the footer a streamOptimized VMDK ends with");
            await file.ReadStructureAsync(headerAt, buffer, "VMDK footer", cancellationToken).ConfigureAwait(false);
            header = VmdkSparseHeader.TryParse(buffer, out error) ?? throw file.Corrupt("VMDK footer", headerAt, error);
            if (header.GdOffset == VmdkSparseHeader.GdAtEnd)
                throw file.Corrupt("VMDK footer", headerAt, "the footer does not say where the grain directory is");
        }
        if (header.Compressed && (header.Flags & VmdkSparseHeader.FlagMarkers) == 0)
            throw file.Corrupt("VMDK sparse header", headerAt, "compressed grains without markers are not supported");

        long grains = (long)((header.Capacity + header.GrainSize - 1) / header.GrainSize);
        if (grains > MaxGrains)
            throw file.Corrupt("VMDK sparse header", headerAt, $"{grains} grains would need more than {MaxGrains * 4 >> 20} MiB of grain tables in memory; use larger grains");
        long gts = (grains + header.NumGtesPerGt - 1) / header.NumGtesPerGt;
        var table = new uint[gts * header.NumGtesPerGt];
        var primary = await ReadDirectoryAsync(file, header.GdOffset, gts, "VMDK grain directory", cancellationToken).ConfigureAwait(false);
        uint[]? redundant = header.HasRedundantGd
            ? await ReadDirectoryAsync(file, header.RgdOffset, gts, "VMDK redundant grain directory", cancellationToken).ConfigureAwait(false)
            : null;
        long grainBytes = (long)header.GrainSize * 512;
        var gtBytes = new byte[header.NumGtesPerGt * 4];
        for (long g = 0; g < gts; g++)
        {
            uint sector = primary[g];
            if (sector == 0) continue;
            long at = (long)sector * 512;
            if (at + gtBytes.Length > length)
                throw file.Corrupt("VMDK grain directory", (long)header.GdOffset * 512 + g * 4, $"entry {g} puts a grain table at {at}, past the end of the file ({length} bytes)");
            await file.ReadStructureAsync(at, gtBytes, "VMDK grain table", cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < header.NumGtesPerGt; i++)
            {
                uint entry = BinaryPrimitives.ReadUInt32LittleEndian(gtBytes.AsSpan(i * 4));
                long grain = g * header.NumGtesPerGt + i;
                if (entry > 1 || (entry == 1 && !header.ZeroedGrainEntries))
                {
                    long start = (long)entry * 512;
                    long need = header.Compressed ? MarkerHeader : Math.Min(grainBytes, (long)header.Capacity * 512 - grain * grainBytes);
                    if (grain >= grains || start + need > length || start < 512)
                        throw file.Corrupt("VMDK grain table", at + i * 4, $"entry {i} puts grain {grain} at {start}, outside the file ({length} bytes)");
                }
                table[grain] = entry;
            }
        }
        return new VmdkSparseExtent(file, header, table, primary, redundant);
    }

    private static async ValueTask<uint[]> ReadDirectoryAsync(ImageFile file, ulong sector, long entries, string structure, CancellationToken cancellationToken)
    {
        long length = file.Length;
        if (sector == 0 || sector > (ulong)(length / 512) || entries * 4 > length - (long)sector * 512)
            throw file.Corrupt(structure, (long)Math.Min(sector * 512, long.MaxValue), $"{entries} entries there do not fit in the file ({length} bytes)");
        var raw = new byte[entries * 4];
        await file.ReadStructureAsync((long)sector * 512, raw, structure, cancellationToken).ConfigureAwait(false);
        var gd = new uint[entries];
        for (int i = 0; i < entries; i++) gd[i] = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(i * 4));
        return gd;
    }

    /// <summary>The run at <paramref name="offset"/> (bytes into this extent), up to the end of its grain.</summary>
    public ImageRun Map(long offset, long maxLength, bool hasBacking)
    {
        long grain = offset / GrainBytes, inGrain = offset % GrainBytes;
        long length = Math.Min(maxLength, GrainBytes - inGrain);
        uint entry = Volatile.Read(ref _grains[grain]);
        if (entry == 0) return new ImageRun(hasBacking ? ImageRunKind.Backing : ImageRunKind.Unallocated, length);
        if (entry == 1 && _header.ZeroedGrainEntries) return new ImageRun(ImageRunKind.Zero, length);
        if (_header.Compressed) return new ImageRun(ImageRunKind.Compressed, length, File, (long)entry * 512, inGrain);
        return new ImageRun(ImageRunKind.Data, length, File, (long)entry * 512 + inGrain);
    }

    /// <summary>Reads part of a compressed grain (marker: LBA, compressed size, zlib data); keeps the last grain decompressed.</summary>
    public async ValueTask ReadCompressedAsync(ImageRun run, Memory<byte> destination, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_cachedGrain != run.FileOffset)
            {
                _cache ??= new byte[GrainBytes];
                var marker = new byte[MarkerHeader];
                await File.ReadDataAsync(run.FileOffset, marker, cancellationToken).ConfigureAwait(false);
                uint size = BinaryPrimitives.ReadUInt32LittleEndian(marker.AsSpan(8));
                if (size == 0 || size > GrainBytes * 2 + 1024 || run.FileOffset + MarkerHeader + size > File.Length)
                    throw new BlockDeviceException(BlockError.MediumError, $"'{File.Path}': the compressed grain at {run.FileOffset} claims {size} bytes: corrupt");
                byte[] compressed = ArrayPool<byte>.Shared.Rent((int)size);
                try
                {
                    await File.ReadDataAsync(run.FileOffset + MarkerHeader, compressed.AsMemory(0, (int)size), cancellationToken).ConfigureAwait(false);
                    int done = 0;
                    try
                    {
                        using var zlib = new ZLibStream(new MemoryStream(compressed, 0, (int)size), CompressionMode.Decompress);
                        int n;
                        while (done < _cache.Length && (n = zlib.Read(_cache, done, _cache.Length - done)) > 0) done += n;
                    }
                    catch (InvalidDataException e)
                    {
                        _cachedGrain = -1;
                        throw new BlockDeviceException(BlockError.MediumError, $"'{File.Path}': the compressed grain at {run.FileOffset} does not decompress: {e.Message}", e);
                    }
                    _cache.AsSpan(done).Clear(); // a short last grain
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(compressed);
                }
                _cachedGrain = run.FileOffset;
            }
            _cache.AsSpan((int)run.OffsetInUnit, destination.Length).CopyTo(destination.Span);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> (inside one grain), allocating the grain
    /// when it is not there; <paramref name="fillFromParent"/> supplies the rest of a new grain from the parent.
    /// </summary>
    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, Func<long, Memory<byte>, ValueTask>? fillFromParent, CancellationToken cancellationToken)
    {
        long grain = offset / GrainBytes, inGrain = offset % GrainBytes;
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            uint entry = _grains[grain];
            if (entry > 1)
            {
                await File.WriteAsync((long)entry * 512 + inGrain, data, cancellationToken).ConfigureAwait(false);
                return;
            }
            long at = (File.Length + 511) / 512 * 512;
            if (at / 512 > uint.MaxValue)
                throw new BlockDeviceException(BlockError.NoSpace, $"'{File.Path}': a grain beyond 2 TiB cannot be addressed by 32-bit grain table entries");
            if (fillFromParent is not null && entry == 0)
            {
                byte[] whole = ArrayPool<byte>.Shared.Rent((int)GrainBytes);
                try
                {
                    await fillFromParent(grain * GrainBytes, whole.AsMemory(0, (int)GrainBytes)).ConfigureAwait(false);
                    data.Span.CopyTo(whole.AsSpan((int)inGrain));
                    await File.WriteAsync(at, whole.AsMemory(0, (int)GrainBytes), cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(whole);
                }
            }
            else
            {
                File.SetLength(at + GrainBytes);
                await File.WriteAsync(at + inGrain, data, cancellationToken).ConfigureAwait(false);
            }
            await File.FlushAsync(cancellationToken).ConfigureAwait(false);
            uint sector = (uint)(at / 512);
            var bytes = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, sector);
            long gt = grain / _header.NumGtesPerGt, index = grain % _header.NumGtesPerGt;
            await File.WriteAsync((long)_gtSectors[gt] * 512 + index * 4, bytes, cancellationToken).ConfigureAwait(false);
            if (_redundantGtSectors is not null)
                await File.WriteAsync((long)_redundantGtSectors[gt] * 512 + index * 4, bytes, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _grains[grain], sector);
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose()
    {
        _lock.Dispose();
    }
}
