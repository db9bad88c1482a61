using System.Text;
using StorSharp.Block;
using StorSharp.Images.Mapped;

namespace StorSharp.Images.Vmdk;

/// <summary>One extent of a VMDK as the device sees it: where it starts on the disk and what backs it.</summary>
internal sealed record VmdkExtent(long Start, long Length, VmdkExtentType Type, VmdkAccess Access, ImageFile? File, long FlatOffset, VmdkSparseExtent? Sparse);

/// <summary>
/// A VMDK as a block device: the extents of its descriptor laid end to end. FLAT extents are byte for
/// byte; ZERO extents read zeros; SPARSE extents go through their grain tables. A delta disk
/// (parentCID and parentFileNameHint) reads unallocated grains from its parent.
/// </summary>
internal sealed class VmdkDevice : MappedImageDevice
{
    private readonly VmdkExtent[] _extents;
    private readonly IBlockDevice? _parent;

    private VmdkDevice(VmdkExtent[] extents, long size, DiskImageOpenOptions options, bool readOnly, bool thin, IBlockDevice? parent)
        : base(size, options.LogicalBlockSize, readOnly, thin, parent)
    {
        _extents = extents;
        _parent = parent;
    }

    internal IReadOnlyList<VmdkExtent> Extents => _extents;

    public static async ValueTask<VmdkDevice> OpenAsync(string path, DiskImageOpenOptions options, CancellationToken cancellationToken)
    {
        var opened = new List<ImageFile>();
        var sparse = new List<VmdkSparseExtent>();
        IBlockDevice? parent = null;
        try
        {
            var first = ImageFile.Open(path, options.ReadOnly);
            opened.Add(first);
            var magic = new byte[4];
            await first.ReadStructureAsync(0, magic, "VMDK header", cancellationToken).ConfigureAwait(false);
            VmdkDescriptor descriptor;
            VmdkSparseExtent? embedded = null;
            if (magic.AsSpan().SequenceEqual("KDMV"u8))
            {
                embedded = await VmdkSparseExtent.OpenAsync(first, cancellationToken).ConfigureAwait(false);
                sparse.Add(embedded);
                var h = embedded.Header;
                if (h.DescriptorOffset == 0 || h.DescriptorSize == 0)
                    throw first.Corrupt("VMDK sparse header", 0, "there is no embedded descriptor (a sparse extent of a descriptor file was opened directly; open the descriptor)");
                descriptor = await ReadDescriptorAsync(first, (long)Math.Min(h.DescriptorOffset, long.MaxValue / 1024) * 512, (long)Math.Min(h.DescriptorSize, int.MaxValue) * 512, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                descriptor = await ReadDescriptorAsync(first, 0, first.Length, cancellationToken).ConfigureAwait(false);
            }

            string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
            var extents = new List<VmdkExtent>();
            long start = 0;
            bool readOnly = options.ReadOnly, thin = false;
            foreach (var line in descriptor.Extents)
            {
                long length = line.Sectors * 512;
                if (line.Access == VmdkAccess.NoAccess)
                    throw first.Corrupt("VMDK descriptor", 0, $"extent \"{line.FileName}\" is NOACCESS");
                if (line.Access == VmdkAccess.ReadOnly && !options.ReadOnly)
                    throw first.Corrupt("VMDK descriptor", 0, $"extent \"{line.FileName}\" is RDONLY: open the image read-only");
                if (line.Type == VmdkExtentType.Zero)
                {
                    extents.Add(new VmdkExtent(start, length, line.Type, line.Access, null, 0, null));
                    start += length;
                    continue;
                }
                string extentPath = Path.GetFullPath(Path.Combine(directory, line.FileName!));
                ImageFile file;
                if (embedded is not null && extentPath == Path.GetFullPath(path)) file = first;
                else
                {
                    if (!File.Exists(extentPath))
                        throw first.Corrupt("VMDK descriptor", 0, $"extent file \"{line.FileName}\" ({extentPath}) does not exist");
                    file = ImageFile.Open(extentPath, options.ReadOnly);
                    opened.Add(file);
                }
                if (line.Type == VmdkExtentType.Flat)
                {
                    long flatOffset = line.Offset * 512;
                    if (flatOffset + length > file.Length)
                        throw file.Corrupt("VMDK flat extent", flatOffset, $"the extent needs {length} bytes from here, the file has {file.Length}: truncated");
                    extents.Add(new VmdkExtent(start, length, line.Type, line.Access, file, flatOffset, null));
                }
                else
                {
                    var extent = file == first && embedded is not null ? embedded : await VmdkSparseExtent.OpenAsync(file, cancellationToken).ConfigureAwait(false);
                    if (extent != embedded) sparse.Add(extent);
                    if (extent.SizeBytes < length)
                        throw file.Corrupt("VMDK sparse header", 0, $"capacity {extent.SizeBytes} bytes is smaller than the descriptor's extent ({length} bytes)");
                    if (extent.Compressed && !options.ReadOnly)
                        throw file.Corrupt("VMDK sparse header", 0, "streamOptimized (compressed) VMDKs are read-only in StorSharp: open the image read-only, or convert it (qemu-img convert -O vmdk -o subformat=monolithicSparse)");
                    if (!options.ReadOnly && !extent.AllGrainTablesPresent)
                        throw file.Corrupt("VMDK grain directory", (long)extent.Header.GdOffset * 512, "some grain tables are not allocated and StorSharp does not create them: open the image read-only");
                    thin = true;
                    extents.Add(new VmdkExtent(start, length, line.Type, line.Access, file, 0, extent));
                }
                start += length;
            }
            if (start % options.LogicalBlockSize != 0)
                throw first.Corrupt("VMDK descriptor", 0, $"the extents add up to {start} bytes, not a whole number of {options.LogicalBlockSize}-byte blocks");
            if (descriptor.HasParent)
            {
                string parentPath = Path.GetFullPath(Path.Combine(directory, descriptor.ParentFileNameHint!));
                parent = await options.OpenBacking!(parentPath, options with { ReadOnly = true, LogicalBlockSize = 512 }, cancellationToken).ConfigureAwait(false);
            }
            return new VmdkDevice([.. extents], start, options, readOnly, thin, parent) { _files = opened, _sparse = sparse };
        }
        catch
        {
            foreach (var s in sparse) s.Dispose();
            foreach (var f in opened) f.Dispose();
            if (parent is not null) await parent.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private List<ImageFile> _files = [];
    private List<VmdkSparseExtent> _sparse = [];

    private static async ValueTask<VmdkDescriptor> ReadDescriptorAsync(ImageFile file, long offset, long length, CancellationToken cancellationToken)
    {
        if (length > VmdkDescriptor.MaxLength)
            throw file.Corrupt("VMDK descriptor", offset, $"{length} bytes is larger than any descriptor ({VmdkDescriptor.MaxLength} bytes at most)");
        var bytes = new byte[length];
        await file.ReadStructureAsync(offset, bytes, "VMDK descriptor", cancellationToken).ConfigureAwait(false);
        int end = Array.IndexOf(bytes, (byte)0);
        string text = Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
        return VmdkDescriptor.TryParse(text, out string error) ?? throw file.Corrupt("VMDK descriptor", offset, error);
    }

    private VmdkExtent Find(long offset)
    {
        int lo = 0, hi = _extents.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_extents[mid].Start <= offset) lo = mid; else hi = mid - 1;
        }
        return _extents[lo];
    }

    protected override ValueTask<ImageRun> MapAsync(long offset, long maxLength, CancellationToken cancellationToken)
    {
        var extent = Find(offset);
        long inExtent = offset - extent.Start;
        long length = Math.Min(maxLength, extent.Length - inExtent);
        return ValueTask.FromResult(extent.Type switch
        {
            VmdkExtentType.Flat => new ImageRun(ImageRunKind.Data, length, extent.File, extent.FlatOffset + inExtent),
            VmdkExtentType.Zero => new ImageRun(ImageRunKind.Zero, length),
            _ => extent.Sparse!.Map(inExtent, length, HasBacking),
        });
    }

    protected override ValueTask ReadCompressedAsync(ImageRun run, Memory<byte> destination, CancellationToken cancellationToken) =>
        _sparse.First(s => s.File == run.File).ReadCompressedAsync(run, destination, cancellationToken);

    protected override long UnitRemaining(long offset)
    {
        var extent = Find(offset);
        long inExtent = offset - extent.Start;
        return extent.Sparse is null ? extent.Length - inExtent : extent.Sparse.GrainBytes - inExtent % extent.Sparse.GrainBytes;
    }

    protected override ValueTask WriteUnallocatedAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var extent = Find(offset);
        if (extent.Sparse is null)
            return ValueTask.FromException(new BlockDeviceException(BlockError.ReadOnly, $"Write at byte {offset} falls in a ZERO extent, which has no storage"));
        Func<long, Memory<byte>, ValueTask>? fill = _parent is null ? null : (at, into) => ReadBackingAsync(extent.Start + at, into, cancellationToken);
        return extent.Sparse.WriteAsync(offset - extent.Start, data, fill, cancellationToken);
    }

    protected override async ValueTask FlushFilesAsync(CancellationToken cancellationToken)
    {
        foreach (var f in _files)
            if (!f.ReadOnly) await f.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override void CloseFiles()
    {
        foreach (var s in _sparse) s.Dispose();
        foreach (var f in _files) f.Dispose();
    }
}
