using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Images.Mapped;

namespace StorSharp.Images.Vhdx;

/// <summary>Payload block states of a VHDX BAT entry (MS-VHDX 2.5.1.1), the low three bits.</summary>
internal enum VhdxPayloadState : byte
{
    NotPresent = 0,
    Undefined = 1,
    Zero = 2,
    Unmapped = 3,
    FullyPresent = 6,
    PartiallyPresent = 7,
}

/// <summary>
/// A fixed or dynamic VHDX (no parent) as a block device. The BAT is held in memory; payload block
/// <c>i</c>'s entry is at index <c>i + i / chunk ratio</c> (a sector bitmap entry follows each chunk).
/// </summary>
/// <remarks>
/// <para>Opening read-write first updates the headers (MS-VHDX 2.2.2.1): new FileWriteGuid and
/// DataWriteGuid, written to the non-current slot with the next sequence number, flushed, then the same to
/// the other slot, so both are valid and current.</para>
/// <para>Allocation order (crash consistency) without the VHDX log: a payload block is added at the end of
/// the file, rounded up to 1 MiB: (1) the file is extended by one block (zeros); (2) the guest data is
/// written into it; (3) fsync; (4) the BAT entry (8 bytes, FULLY_PRESENT and the block's MiB offset) is
/// written in place. A crash before (4) leaves an unreferenced block at the end of the file (leaked
/// space, contents unchanged). Step (4) changes 8 aligned bytes inside one sector, which the storage writes
/// whole or not at all, so the BAT is never half-updated; and because the data was made durable first, the
/// entry never points at data that is not there. This is why the log is not needed for these updates.</para>
/// </remarks>
internal sealed class VhdxDevice : MappedImageDevice
{
    private const long MiB = 1 << 20;
    private readonly ImageFile _file;
    private readonly VhdxMetadata _metadata;
    private readonly ulong[] _bat;
    private readonly long _batOffset;
    private readonly SemaphoreSlim _allocation = new(1, 1);

    private VhdxDevice(ImageFile file, VhdxMetadata metadata, ulong[] bat, long batOffset, DiskImageOpenOptions options)
        : base(metadata.VirtualDiskSize, options.LogicalBlockSize, options.ReadOnly, thin: true, backing: null)
    {
        _file = file;
        _metadata = metadata;
        _bat = bat;
        _batOffset = batOffset;
    }

    internal VhdxMetadata Metadata => _metadata;

    public static async ValueTask<VhdxDevice> OpenAsync(ImageFile file, DiskImageOpenOptions options, CancellationToken cancellationToken, bool replayed = false)
    {
        long length = file.Length;
        var ident = new byte[8];
        await file.ReadStructureAsync(0, ident, "VHDX file type identifier", cancellationToken).ConfigureAwait(false);
        if (!ident.AsSpan().SequenceEqual("vhdxfile"u8))
            throw file.Corrupt("VHDX file type identifier", 0, "no \"vhdxfile\" signature");

        // Headers: the valid one with the greater sequence number.
        var slots = new VhdxHeader?[2];
        var errors = new string[2];
        var buffer = new byte[VhdxRegionTable.Length];
        for (int i = 0; i < 2; i++)
        {
            if (length < VhdxHeader.Offsets[i] + VhdxHeader.Length) { errors[i] = "past the end of the file"; continue; }
            await file.ReadStructureAsync(VhdxHeader.Offsets[i], buffer.AsMemory(0, VhdxHeader.Length), "VHDX header", cancellationToken).ConfigureAwait(false);
            slots[i] = VhdxHeader.TryParse(buffer.AsSpan(0, VhdxHeader.Length), out errors[i]);
        }
        var (header, slot) = VhdxHeader.Select(slots[0], slots[1])
            ?? throw file.Corrupt("VHDX header", VhdxHeader.Offsets[0], $"neither header is valid (first: {errors[0]}; second at {VhdxHeader.Offsets[1]}: {errors[1]})");
        if (header.LogLength % MiB != 0 || header.LogOffset % MiB != 0 || header.LogOffset > (ulong)length || header.LogLength > length - (long)header.LogOffset)
            throw file.Corrupt("VHDX header", VhdxHeader.Offsets[slot], $"the log at {header.LogOffset}, {header.LogLength} bytes, is not whole MiB inside the file");
        if (header.LogGuid != Guid.Empty)
        {
            // Pending updates in the log: apply them (read-write opens only), then open the result.
            if (replayed)
                throw file.Corrupt("VHDX header", VhdxHeader.Offsets[slot], "the log is still pending after replaying it");
            await VhdxLog.ReplayAsync(file, header, slot, cancellationToken).ConfigureAwait(false);
            return await OpenAsync(file, options, cancellationToken, replayed: true).ConfigureAwait(false);
        }

        // Region table: the first valid copy.
        VhdxRegion[]? regions = null;
        string regionError = "";
        foreach (long at in VhdxRegionTable.Offsets)
        {
            if (length < at + VhdxRegionTable.Length) { regionError += $"{at}: past the end of the file; "; continue; }
            await file.ReadStructureAsync(at, buffer, "VHDX region table", cancellationToken).ConfigureAwait(false);
            regions = VhdxRegionTable.TryParse(buffer, length, out string error);
            if (regions is not null) break;
            regionError += $"{at}: {error}; ";
        }
        if (regions is null)
            throw file.Corrupt("VHDX region table", VhdxRegionTable.Offsets[0], $"no valid copy ({regionError.TrimEnd(' ', ';')})");
        var batRegion = regions.FirstOrDefault(r => r.Id == VhdxRegionTable.BatRegion);
        var metaRegion = regions.FirstOrDefault(r => r.Id == VhdxRegionTable.MetadataRegion);
        if (batRegion.Length == 0 || metaRegion.Length == 0)
            throw file.Corrupt("VHDX region table", VhdxRegionTable.Offsets[0], "the BAT or metadata region is missing");
        long logStart = (long)header.LogOffset, logEnd = logStart + header.LogLength;
        foreach (var r in regions)
            if (header.LogLength > 0 && r.FileOffset < logEnd && logStart < r.FileOffset + r.Length)
                throw file.Corrupt("VHDX region table", VhdxRegionTable.Offsets[0], $"region {r.Id} overlaps the log");

        // Metadata.
        if (metaRegion.Length > 64 * MiB)
            throw file.Corrupt("VHDX metadata region", metaRegion.FileOffset, $"{metaRegion.Length} bytes is implausibly large");
        var meta = new byte[metaRegion.Length];
        await file.ReadStructureAsync(metaRegion.FileOffset, meta, "VHDX metadata region", cancellationToken).ConfigureAwait(false);
        var metadata = VhdxMetadata.TryParse(meta, out string metaError) ?? throw file.Corrupt("VHDX metadata region", metaRegion.FileOffset, metaError);
        if (metadata.HasParent)
            throw file.Corrupt("VHDX metadata region", metaRegion.FileOffset, "differencing VHDX (HasParent) is not supported; convert it with qemu-img convert");
        if (metadata.VirtualDiskSize % options.LogicalBlockSize != 0)
            throw file.Corrupt("VHDX metadata region", metaRegion.FileOffset, $"the disk size {metadata.VirtualDiskSize} is not a whole number of {options.LogicalBlockSize}-byte blocks");

        // BAT.
        long entries = metadata.BatEntries;
        if (entries * 8 > batRegion.Length)
            throw file.Corrupt("VHDX BAT region", batRegion.FileOffset, $"{batRegion.Length} bytes cannot hold the {entries} entries a {metadata.VirtualDiskSize}-byte disk of {metadata.BlockSize}-byte blocks needs");
        var raw = new byte[entries * 8];
        await file.ReadStructureAsync(batRegion.FileOffset, raw, "VHDX BAT", cancellationToken).ConfigureAwait(false);
        var bat = new ulong[entries];
        for (long i = 0; i < entries; i++)
        {
            ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan((int)(i * 8)));
            bat[i] = entry;
            bool isBitmap = (i + 1) % (metadata.ChunkRatio + 1) == 0;
            if (isBitmap) continue; // sector bitmap blocks only matter for differencing disks
            long entryOffset = batRegion.FileOffset + i * 8;
            var state = (VhdxPayloadState)(entry & 7);
            if (state is VhdxPayloadState.PartiallyPresent || !Enum.IsDefined(state))
                throw file.Corrupt("VHDX BAT", entryOffset, $"entry {i} has state {(int)state}, which a disk without parent cannot have");
            if (state != VhdxPayloadState.FullyPresent) continue;
            long blockOffset = (long)(entry >> 20) * MiB;
            long block = i - i / (metadata.ChunkRatio + 1);
            long needed = Math.Min(metadata.BlockSize, metadata.VirtualDiskSize - block * metadata.BlockSize);
            if (blockOffset < MiB || blockOffset > length - needed)
                throw file.Corrupt("VHDX BAT", entryOffset, $"entry {i} puts payload block {block} at {blockOffset}, outside the file ({length} bytes)");
            foreach (var r in regions)
                if (blockOffset < r.FileOffset + r.Length && r.FileOffset < blockOffset + needed)
                    throw file.Corrupt("VHDX BAT", entryOffset, $"entry {i} puts payload block {block} at {blockOffset}, over region {r.Id}");
            if (header.LogLength > 0 && blockOffset < logEnd && logStart < blockOffset + needed)
                throw file.Corrupt("VHDX BAT", entryOffset, $"entry {i} puts payload block {block} at {blockOffset}, over the log");
        }

        if (!options.ReadOnly)
        {
            // Two header updates: afterwards both slots are valid, the current one newest (MS-VHDX 2.2.2.1).
            var current = header;
            for (int n = 0; n < 2; n++)
            {
                slot ^= 1;
                current = current with { SequenceNumber = current.SequenceNumber + 1, FileWriteGuid = Guid.NewGuid(), DataWriteGuid = Guid.NewGuid() };
                await file.WriteAsync(VhdxHeader.Offsets[slot], current.ToBytes(), cancellationToken).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        return new VhdxDevice(file, metadata, bat, batRegion.FileOffset, options);
    }

    private long EntryIndex(long block) => block + block / _metadata.ChunkRatio;

    protected override ValueTask<ImageRun> MapAsync(long offset, long maxLength, CancellationToken cancellationToken)
    {
        long block = offset / _metadata.BlockSize, inBlock = offset % _metadata.BlockSize;
        long length = Math.Min(maxLength, _metadata.BlockSize - inBlock);
        ulong entry = Volatile.Read(ref _bat[EntryIndex(block)]);
        return ValueTask.FromResult((VhdxPayloadState)(entry & 7) switch
        {
            VhdxPayloadState.FullyPresent => new ImageRun(ImageRunKind.Data, length, _file, (long)(entry >> 20) * MiB + inBlock),
            VhdxPayloadState.Zero => new ImageRun(ImageRunKind.Zero, length),
            _ => new ImageRun(ImageRunKind.Unallocated, length),
        });
    }

    protected override long UnitRemaining(long offset) => _metadata.BlockSize - offset % _metadata.BlockSize;

    protected override async ValueTask WriteUnallocatedAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        long block = offset / _metadata.BlockSize, inBlock = offset % _metadata.BlockSize;
        long index = EntryIndex(block);
        await _allocation.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ulong entry = Volatile.Read(ref _bat[index]);
            if ((VhdxPayloadState)(entry & 7) == VhdxPayloadState.FullyPresent)
            {
                await _file.WriteAsync((long)(entry >> 20) * MiB + inBlock, data, cancellationToken).ConfigureAwait(false);
                return;
            }
            long blockOffset = (_file.Length + MiB - 1) / MiB * MiB;
            _file.SetLength(blockOffset + _metadata.BlockSize);
            await _file.WriteAsync(blockOffset + inBlock, data, cancellationToken).ConfigureAwait(false);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            ulong newEntry = (ulong)(blockOffset / MiB) << 20 | (ulong)VhdxPayloadState.FullyPresent;
            var bytes = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, newEntry);
            await _file.WriteAsync(_batOffset + index * 8, bytes, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _bat[index], newEntry);
        }
        finally
        {
            _allocation.Release();
        }
    }

    protected override ValueTask FlushFilesAsync(CancellationToken cancellationToken) =>
        _file.ReadOnly ? default : _file.FlushAsync(cancellationToken);

    protected override void CloseFiles()
    {
        _file.Dispose();
        _allocation.Dispose();
    }
}
