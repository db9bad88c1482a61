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
/// <para>Dynamic disks: reads of an allocated block take the data as stored and do not consult the sector
/// bitmap (qemu does the same); the first write to a block allocated by another tool first sets its bitmap
/// to all ones, so Hyper-V sees every written sector.</para>
/// <para>Differencing disks: an unallocated block, and a sector whose bitmap bit is clear, read from the
/// parent. A new block gets a bitmap with only the written sectors set. A write to parent sectors of an
/// allocated block writes the data, fsyncs, and only then writes the bitmap with their bits set, so a
/// crash never shows stale bytes in place of the parent's. Bitmaps are cached (at most 4096 of them).</para>
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
    private readonly bool _differencing;
    private readonly Dictionary<long, byte[]> _bitmaps = [];
    private const int MaxCachedBitmaps = 4096;

    private VhdDevice(ImageFile file, VhdFooter footer, VhdDynamicHeader? dynamic, uint[] bat, long freeOffset, long size, DiskImageOpenOptions options, IBlockDevice? parent = null)
        : base(size, options.LogicalBlockSize, options.ReadOnly, thin: dynamic is not null, backing: parent)
    {
        _file = file;
        _footer = footer;
        _dynamic = dynamic;
        _bat = bat;
        _bitmapFull = new bool[bat.Length];
        _differencing = footer.DiskType == VhdDiskType.Differencing;
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
        IBlockDevice? parent = null;
        if (footer.DiskType == VhdDiskType.Differencing)
        {
            foreach (var locator in header.ParentLocators)
                if (locator.DataOffset <= (ulong)length && locator.DataLength <= 65536)
                    free = Math.Max(free, (long)locator.DataOffset + Math.Max(locator.DataLength, Math.Min(locator.DataSpace, 65536u) * 512L));
            free = (free + 511) / 512 * 512;
            string parentPath = await FindParentAsync(file, header, headerOffset, cancellationToken).ConfigureAwait(false);
            parent = await options.OpenBacking!(parentPath, options with { ReadOnly = true, LogicalBlockSize = 512 }, cancellationToken).ConfigureAwait(false);
        }
        return new VhdDevice(file, footer, header, bat, free, size, options, parent) { _batOffset = batOffset };
    }

    /// <summary>
    /// The parent of a differencing disk: the first parent locator whose path names an existing file
    /// (W2ru relative to the child, then W2ku, then MacX), else the header's parent name next to the child.
    /// </summary>
    private static async ValueTask<string> FindParentAsync(ImageFile file, VhdDynamicHeader header, long headerOffset, CancellationToken cancellationToken)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(file.Path))!;
        var tried = new List<string>();
        foreach (uint code in new[] { VhdDynamicHeader.W2ru, VhdDynamicHeader.W2ku, VhdDynamicHeader.MacX })
            foreach (var locator in header.ParentLocators.Where(l => l.PlatformCode == code))
            {
                if (locator.DataLength == 0 || locator.DataLength > 65536 || locator.DataOffset > (ulong)file.Length || locator.DataLength > file.Length - (long)locator.DataOffset)
                    throw file.Corrupt("VHD parent locator", headerOffset + 576, $"the locator's path ({locator.DataLength} bytes at {locator.DataOffset}) is not inside the file");
                var bytes = new byte[locator.DataLength];
                await file.ReadStructureAsync((long)locator.DataOffset, bytes, "VHD parent locator data", cancellationToken).ConfigureAwait(false);
                string text = (code == VhdDynamicHeader.MacX ? System.Text.Encoding.UTF8.GetString(bytes) : System.Text.Encoding.Unicode.GetString(bytes)).TrimEnd('\0');
                if (code == VhdDynamicHeader.MacX && text.StartsWith("file://", StringComparison.Ordinal)) text = Uri.UnescapeDataString(text["file://".Length..]);
                text = text.Replace('\\', '/');
                if (text.StartsWith("./", StringComparison.Ordinal)) text = text[2..];
                // A Windows absolute path (C:/...) cannot exist here; its file name next to the child may.
                string candidate = code == VhdDynamicHeader.W2ku && text.Length > 2 && text[1] == ':' ? Path.Combine(directory, Path.GetFileName(text)) : Path.Combine(directory, text);
                tried.Add(candidate);
                if (File.Exists(candidate)) return candidate;
            }
        if (header.ParentUnicodeName.Length > 0)
        {
            string byName = Path.Combine(directory, Path.GetFileName(header.ParentUnicodeName.Replace('\\', '/')));
            tried.Add(byName);
            if (File.Exists(byName)) return byName;
        }
        throw file.Corrupt("VHD dynamic header", headerOffset,
            tried.Count == 0 ? "a differencing disk without parent locators or parent name" : $"the parent image was not found (tried {string.Join(", ", tried)})");
    }

    private long _batOffset;

    protected override ValueTask<ImageRun> MapAsync(long offset, long maxLength, CancellationToken cancellationToken)
    {
        if (_dynamic is null)
            return ValueTask.FromResult(new ImageRun(ImageRunKind.Data, maxLength, _file, offset));
        long block = offset / _dynamic.BlockSize, inBlock = offset % _dynamic.BlockSize;
        long length = Math.Min(maxLength, _dynamic.BlockSize - inBlock);
        uint sector = Volatile.Read(ref _bat[block]);
        if (sector == Unallocated)
            return ValueTask.FromResult(new ImageRun(_differencing ? ImageRunKind.Backing : ImageRunKind.Unallocated, length));
        long data = (long)sector * 512 + _dynamic.BitmapBytes + inBlock;
        if (!_differencing)
            return ValueTask.FromResult(new ImageRun(ImageRunKind.Data, length, _file, data));
        return MapDifferencingAsync(block, inBlock, length, data, cancellationToken);
    }

    /// <summary>In a differencing disk the sector bitmap decides: a set bit (most significant bit first) is this file's sector, a clear one the parent's.</summary>
    private async ValueTask<ImageRun> MapDifferencingAsync(long block, long inBlock, long length, long data, CancellationToken cancellationToken)
    {
        byte[] bitmap = await BitmapAsync(block, cancellationToken).ConfigureAwait(false);
        long first = inBlock / 512, sectors = (length + 511) / 512;
        bool present = IsSet(bitmap, first);
        long run = 1;
        while (run < sectors && IsSet(bitmap, first + run) == present) run++;
        long runLength = Math.Min(length, run * 512);
        return present ? new ImageRun(ImageRunKind.Data, runLength, _file, data) : new ImageRun(ImageRunKind.Backing, runLength);
    }

    private static bool IsSet(byte[] bitmap, long sector) => (bitmap[sector >> 3] & (0x80 >> (int)(sector & 7))) != 0;

    private async ValueTask<byte[]> BitmapAsync(long block, CancellationToken cancellationToken)
    {
        lock (_bitmaps)
            if (_bitmaps.TryGetValue(block, out var cached)) return cached;
        var bitmap = new byte[_dynamic!.BitmapBytes];
        await _file.ReadDataAsync((long)_bat[block] * 512, bitmap, cancellationToken).ConfigureAwait(false);
        lock (_bitmaps)
        {
            if (_bitmaps.Count >= MaxCachedBitmaps) _bitmaps.Clear(); // bounded: 4096 bitmaps
            return _bitmaps.TryAdd(block, bitmap) ? bitmap : _bitmaps[block];
        }
    }

    protected override long UnitRemaining(long offset) =>
        _dynamic is null ? long.MaxValue : _dynamic.BlockSize - offset % _dynamic.BlockSize;

    protected override async ValueTask BeforeInPlaceWriteAsync(long offset, CancellationToken cancellationToken)
    {
        if (_dynamic is null || _differencing) return;
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
            if (existing != Unallocated)
            {
                // Allocated (by a concurrent write, or a differencing block whose sectors were the parent's):
                // the data first, durable, then the bitmap bits that make it visible.
                long start = (long)existing * 512;
                await _file.WriteAsync(start + dynamic.BitmapBytes + inBlock, data, cancellationToken).ConfigureAwait(false);
                if (_differencing)
                {
                    var bitmap = (byte[])(await BitmapAsync(block, cancellationToken).ConfigureAwait(false)).Clone();
                    SetBits(bitmap, inBlock / 512, data.Length / 512);
                    await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
                    await _file.WriteAsync(start, bitmap, cancellationToken).ConfigureAwait(false);
                    lock (_bitmaps) _bitmaps[block] = bitmap;
                }
                return;
            }
            long blockStart = _freeOffset;
            if (blockStart / 512 >= Unallocated)
                throw new BlockDeviceException(BlockError.NoSpace, $"'{_file.Path}': the VHD cannot address a block beyond {blockStart} (BAT entries are 32-bit sector numbers)");
            long dataStart = blockStart + dynamic.BitmapBytes, newFooter = dataStart + dynamic.BlockSize;
            bool stale = _file.Length > dataStart; // bytes beyond the footer: the data area is not known to be zeros
            await _file.WriteAsync(newFooter, _footer.Raw, cancellationToken).ConfigureAwait(false);
            var newBitmap = new byte[dynamic.BitmapBytes];
            if (_differencing) SetBits(newBitmap, inBlock / 512, data.Length / 512); // the other sectors stay the parent's
            else newBitmap.AsSpan().Fill(0xFF);
            await _file.WriteAsync(blockStart, newBitmap, cancellationToken).ConfigureAwait(false);
            if (stale && !_differencing)
                await ZeroFill.WriteAsync(_file, dataStart, dynamic.BlockSize, cancellationToken).ConfigureAwait(false);
            await _file.WriteAsync(dataStart + inBlock, data, cancellationToken).ConfigureAwait(false);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            var entry = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(entry, (uint)(blockStart / 512));
            await _file.WriteAsync(_batOffset + block * 4, entry, cancellationToken).ConfigureAwait(false);
            _bitmapFull[block] = !_differencing;
            if (_differencing) lock (_bitmaps) _bitmaps[block] = newBitmap;
            Volatile.Write(ref _bat[block], (uint)(blockStart / 512));
            _freeOffset = newFooter;
        }
        finally
        {
            _allocation.Release();
        }
    }

    private static void SetBits(byte[] bitmap, long first, long count)
    {
        for (long s = first; s < first + count; s++) bitmap[s >> 3] |= (byte)(0x80 >> (int)(s & 7));
    }

    protected override ValueTask FlushFilesAsync(CancellationToken cancellationToken) =>
        _file.ReadOnly ? default : _file.FlushAsync(cancellationToken);

    protected override void CloseFiles()
    {
        _file.Dispose();
        _allocation.Dispose();
    }
}
