using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Images.Mapped;

namespace StorSharp.Images.Vhd;

/// <summary>
/// A fixed or dynamic VHD as a block device. Fixed: the data is the file up to the footer. Dynamic: the
/// block allocation table (BAT, one big-endian sector number per block, 0xFFFFFFFF when unallocated) is
/// held in memory; each allocated block is a sector bitmap followed by the block's data.
/// </summary>
/// <remarks>
/// <para>Allocation order (crash consistency): a new block goes at the first free offset (after the BAT and
/// the last block, where the footer is). (1) The footer is written at the new end of the file, so the file
/// always ends with a footer; (2) the all-ones sector bitmap is written over the old footer position;
/// (3) the guest data; (4) fsync; (5) only then the BAT entry. A crash before (5) leaves a block nothing
/// points to (leaked space, the disk contents unchanged); after (5) the entry points at durable data.</para>
/// <para>Reads of an allocated block take the data as stored and do not consult the sector bitmap (qemu does
/// the same); the first write to a block allocated by another tool first sets its bitmap to all ones, so
/// Hyper-V sees every written sector.</para>
/// </remarks>
internal sealed class VhdDevice : MappedImageDevice
{
    private const uint Unallocated = uint.MaxValue;
    private readonly ImageFile _file;
    private readonly VhdFooter _footer;
    private readonly VhdDynamicHeader? _dynamic;
    private readonly uint[] _bat;
    private readonly bool[] _bitmapFull;
    private readonly SemaphoreSlim _allocation = new(1, 1);
    private long _freeOffset;

    private VhdDevice(ImageFile file, VhdFooter footer, VhdDynamicHeader? dynamic, uint[] bat, long freeOffset, long size, DiskImageOpenOptions options)
        : base(size, options.LogicalBlockSize, options.ReadOnly, thin: dynamic is not null, backing: null)
    {
        _file = file;
        _footer = footer;
        _dynamic = dynamic;
        _bat = bat;
        _bitmapFull = new bool[bat.Length];
        _freeOffset = freeOffset;
    }

    /// <summary>The footer the image was opened with.</summary>
    internal VhdFooter Footer => _footer;

    /// <summary>The dynamic header, or null for a fixed VHD.</summary>
    internal VhdDynamicHeader? DynamicHeader => _dynamic;

    public static async ValueTask<VhdDevice> OpenAsync(ImageFile file, DiskImageOpenOptions options, CancellationToken cancellationToken)
    {
        long length = file.Length;
        if (length < VhdFooter.Length)
            throw file.Corrupt("VHD footer", 0, $"the file is {length} bytes, shorter than a 512-byte footer");
        var tail = new byte[VhdFooter.Length];
        long tailOffset = (length - VhdFooter.Length) / 512 * 512;
        await file.ReadStructureAsync(tailOffset, tail, "VHD footer", cancellationToken).ConfigureAwait(false);
        var head = new byte[VhdFooter.Length];
        await file.ReadStructureAsync(0, head, "VHD footer copy", cancellationToken).ConfigureAwait(false);
        // A dynamic disk's copy at offset 0 is what readers use (the end moves as blocks are added); a fixed
        // disk has only the footer at the end.
        var footer = VhdFooter.TryParse(head, out string headError);
        long footerOffset = 0;
        if (footer is null || footer.DiskType == VhdDiskType.Fixed)
        {
            footer = VhdFooter.TryParse(tail, out string tailError)
                ?? throw file.Corrupt("VHD footer", tailOffset, head.AsSpan().StartsWith(VhdFooter.Cookie) ? $"{tailError}; the copy at offset 0: {headError}" : tailError);
            footerOffset = tailOffset;
        }
        long size = footer.VirtualSize;
        if (size <= 0)
            throw file.Corrupt("VHD footer", footerOffset, $"the disk size is {size} bytes");
        if (size % options.LogicalBlockSize != 0)
            throw file.Corrupt("VHD footer", footerOffset, $"the disk size {size} is not a whole number of {options.LogicalBlockSize}-byte blocks");
        switch (footer.DiskType)
        {
            case VhdDiskType.Fixed:
                if (size > tailOffset)
                    throw file.Corrupt("VHD footer", footerOffset, $"a fixed disk of {size} bytes needs {size + 512} bytes of file, the file has {length}: truncated");
                return new VhdDevice(file, footer, null, [], 0, size, options);
            case VhdDiskType.Differencing:
                throw file.Corrupt("VHD footer", footerOffset, "differencing VHDs are not supported; convert it (qemu-img convert -O vpc) or use the parent");
        }
        if (footer.DataOffset > (ulong)(length - VhdDynamicHeader.Length) || footer.DataOffset % 512 != 0)
            throw file.Corrupt("VHD footer", footerOffset, $"the dynamic header offset {footer.DataOffset} is not a sector inside the file ({length} bytes)");
        long headerOffset = (long)footer.DataOffset;
        var headerBytes = new byte[VhdDynamicHeader.Length];
        await file.ReadStructureAsync(headerOffset, headerBytes, "VHD dynamic header", cancellationToken).ConfigureAwait(false);
        var header = VhdDynamicHeader.TryParse(headerBytes, out string error) ?? throw file.Corrupt("VHD dynamic header", headerOffset, error);
        long blocksNeeded = (size + header.BlockSize - 1) / header.BlockSize;
        if (header.MaxTableEntries < blocksNeeded)
            throw file.Corrupt("VHD dynamic header", headerOffset, $"{header.MaxTableEntries} BAT entries of {header.BlockSize} bytes cannot hold a {size}-byte disk");
        long batBytes = (long)header.MaxTableEntries * 4;
        if (header.TableOffset % 512 != 0 || header.TableOffset > (ulong)length || batBytes > length - (long)header.TableOffset)
            throw file.Corrupt("VHD block allocation table", (long)Math.Min(header.TableOffset, long.MaxValue),
                $"{header.MaxTableEntries} entries ({batBytes} bytes) there do not fit in the file ({length} bytes) or are not sector aligned");
        long batOffset = (long)header.TableOffset;
        var raw = new byte[batBytes];
        await file.ReadStructureAsync(batOffset, raw, "VHD block allocation table", cancellationToken).ConfigureAwait(false);
        var bat = new uint[blocksNeeded];
        long blockBytes = header.BitmapBytes + (long)header.BlockSize;
        long free = (batOffset + batBytes + 511) / 512 * 512;
        for (int i = 0; i < bat.Length; i++)
        {
            uint sector = BinaryPrimitives.ReadUInt32BigEndian(raw.AsSpan(i * 4));
            bat[i] = sector;
            if (sector == Unallocated) continue;
            long start = (long)sector * 512;
            if (start + blockBytes > length)
                throw file.Corrupt("VHD block allocation table", batOffset + i * 4L,
                    $"entry {i} puts block {i} at {start}, past the end of the file ({length} bytes)");
            if (start < batOffset + batBytes && start + blockBytes > headerOffset)
                throw file.Corrupt("VHD block allocation table", batOffset + i * 4L, $"entry {i} puts block {i} at {start}, over the VHD metadata");
            free = Math.Max(free, start + blockBytes);
        }
        free = Math.Max(free, headerOffset + VhdDynamicHeader.Length);
        return new VhdDevice(file, footer, header, bat, free, size, options) { _batOffset = batOffset };
    }

    private long _batOffset;

    protected override ValueTask<ImageRun> MapAsync(long offset, long maxLength, CancellationToken cancellationToken)
    {
        if (_dynamic is null)
            return ValueTask.FromResult(new ImageRun(ImageRunKind.Data, maxLength, _file, offset));
        long block = offset / _dynamic.BlockSize, inBlock = offset % _dynamic.BlockSize;
        long length = Math.Min(maxLength, _dynamic.BlockSize - inBlock);
        uint sector = Volatile.Read(ref _bat[block]);
        return ValueTask.FromResult(sector == Unallocated
            ? new ImageRun(ImageRunKind.Unallocated, length)
            : new ImageRun(ImageRunKind.Data, length, _file, (long)sector * 512 + _dynamic.BitmapBytes + inBlock));
    }

    protected override long UnitRemaining(long offset) =>
        _dynamic is null ? long.MaxValue : _dynamic.BlockSize - offset % _dynamic.BlockSize;

    protected override async ValueTask BeforeInPlaceWriteAsync(long offset, CancellationToken cancellationToken)
    {
        if (_dynamic is null) return;
        long block = offset / _dynamic.BlockSize;
        if (Volatile.Read(ref _bitmapFull[block])) return;
        var ones = new byte[_dynamic.BitmapBytes];
        ones.AsSpan().Fill(0xFF);
        await _file.WriteAsync((long)_bat[block] * 512, ones, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _bitmapFull[block], true);
    }

    protected override async ValueTask WriteUnallocatedAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var dynamic = _dynamic!;
        long block = offset / dynamic.BlockSize, inBlock = offset % dynamic.BlockSize;
        await _allocation.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            uint existing = Volatile.Read(ref _bat[block]);
            long blockStart;
            if (existing != Unallocated)
            {
                // Another write allocated it while this one waited.
                blockStart = (long)existing * 512;
            }
            else
            {
                blockStart = _freeOffset;
                if (blockStart / 512 >= Unallocated)
                    throw new BlockDeviceException(BlockError.NoSpace, $"'{_file.Path}': the VHD cannot address a block beyond {blockStart} (BAT entries are 32-bit sector numbers)");
                long dataStart = blockStart + dynamic.BitmapBytes, newFooter = dataStart + dynamic.BlockSize;
                bool stale = _file.Length > dataStart; // bytes beyond the footer: the data area is not known to be zeros
                await _file.WriteAsync(newFooter, _footer.Raw, cancellationToken).ConfigureAwait(false);
                var ones = new byte[dynamic.BitmapBytes];
                ones.AsSpan().Fill(0xFF);
                await _file.WriteAsync(blockStart, ones, cancellationToken).ConfigureAwait(false);
                if (stale)
                    await ZeroFill.WriteAsync(_file, dataStart, dynamic.BlockSize, cancellationToken).ConfigureAwait(false);
                await _file.WriteAsync(dataStart + inBlock, data, cancellationToken).ConfigureAwait(false);
                await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
                var entry = new byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(entry, (uint)(blockStart / 512));
                await _file.WriteAsync(_batOffset + block * 4, entry, cancellationToken).ConfigureAwait(false);
                _bitmapFull[block] = true;
                Volatile.Write(ref _bat[block], (uint)(blockStart / 512));
                _freeOffset = newFooter;
                return;
            }
            await _file.WriteAsync(blockStart + dynamic.BitmapBytes + inBlock, data, cancellationToken).ConfigureAwait(false);
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
