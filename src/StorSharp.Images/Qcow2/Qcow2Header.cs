using System.Buffers.Binary;
using System.Text;

namespace StorSharp.Images.Qcow2;

/// <summary>
/// The qcow2 header (qcow2 specification, "Header"): versions 2 and 3, with the header extensions
/// this implementation reads (backing file format name, feature name table). Parsing is pure: it
/// checks every field against the file length and throws <see cref="DiskImageException"/> naming the
/// field and its offset.
/// </summary>
internal sealed class Qcow2Header
{
    /// <summary>"QFI\xfb", the first four bytes of every qcow2 file.</summary>
    internal const uint Magic = 0x514649FB;

    /// <summary>Header length of version 2 (and the fixed part of version 3).</summary>
    internal const int V2Length = 72;

    /// <summary>Smallest version 3 header length the spec allows.</summary>
    internal const int V3MinLength = 104;

    /// <summary>Cluster sizes the spec allows: 512 bytes (bits 9) to 2 MiB (bits 21).</summary>
    internal const int MinClusterBits = 9, MaxClusterBits = 21;

    /// <summary>Incompatible feature bits (byte 72 of a v3 header).</summary>
    internal const ulong DirtyBit = 1UL << 0, CorruptBit = 1UL << 1, ExternalDataFileBit = 1UL << 2,
        CompressionTypeBit = 1UL << 3, ExtendedL2Bit = 1UL << 4;

    /// <summary>Largest L1 table qemu writes or accepts (32 MiB of entries); anything bigger is corrupt.</summary>
    internal const long MaxL1Bytes = 32L << 20;

    /// <summary>Largest refcount table qemu accepts (8 MiB).</summary>
    internal const long MaxRefcountTableBytes = 8L << 20;

    /// <summary>Header extension types (qcow2 specification, "Header extensions").</summary>
    internal const uint ExtensionEnd = 0, ExtensionBackingFormat = 0xE2792ACA, ExtensionFeatureNames = 0x6803F857;

    internal int Version { get; private init; }
    internal ulong BackingFileOffset { get; private init; }
    internal uint BackingFileSize { get; private init; }
    internal int ClusterBits { get; private init; }
    internal long Size { get; private init; }
    internal uint CryptMethod { get; private init; }
    internal int L1Size { get; private init; }
    internal long L1TableOffset { get; private init; }
    internal long RefcountTableOffset { get; private init; }
    internal int RefcountTableClusters { get; private init; }
    internal uint SnapshotCount { get; private init; }
    internal ulong IncompatibleFeatures { get; private init; }
    internal ulong CompatibleFeatures { get; private init; }
    internal ulong AutoclearFeatures { get; private init; }
    internal int RefcountOrder { get; private init; }
    internal int HeaderLength { get; private init; }
    internal byte CompressionType { get; private init; }

    /// <summary>The backing file name, or null when there is none.</summary>
    internal string? BackingFile { get; private init; }

    /// <summary>The backing file format from the header extension, or null.</summary>
    internal string? BackingFormat { get; private init; }

    /// <summary>Names of incompatible feature bits from the feature name table, by bit.</summary>
    internal IReadOnlyDictionary<int, string> IncompatibleFeatureNames { get; private init; } = new Dictionary<int, string>();

    internal int ClusterSize => 1 << ClusterBits;
    internal int L2Entries => ClusterSize / 8;
    internal int RefcountBits => 1 << RefcountOrder;
    internal long RefcountBlockEntries => (long)ClusterSize * 8 / RefcountBits;

    /// <summary>Bytes of the head a caller must read for <see cref="Parse"/>: the first cluster holds the header and its extensions.</summary>
    internal static int BytesToRead(long fileLength) => (int)Math.Min(fileLength, 1 << MaxClusterBits);

    /// <summary>True when <paramref name="head"/> starts with the qcow2 magic and a version this code knows of.</summary>
    internal static bool Probe(ReadOnlySpan<byte> head) =>
        head.Length >= 8 && BinaryPrimitives.ReadUInt32BigEndian(head) == Magic;

    /// <summary>Parses and checks the header in <paramref name="head"/> (the file's first bytes).</summary>
    /// <exception cref="DiskImageException">A field is out of range, a table lies outside the file, or a feature is unsupported.</exception>
    internal static Qcow2Header Parse(string path, ReadOnlySpan<byte> head, long fileLength)
    {
        DiskImageException Bad(string what) => new($"{path}: qcow2 {what}");
        if (head.Length < V2Length)
            throw Bad($"header is truncated: the file has {fileLength} bytes, the header needs {V2Length}");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(head);
        if (magic != Magic)
            throw Bad($"header at offset 0: magic 0x{magic:X8} is not 0x{Magic:X8} (\"QFI\\xfb\")");
        uint version = BinaryPrimitives.ReadUInt32BigEndian(head[4..]);
        if (version is not (2 or 3))
            throw Bad($"header at offset 4: version {version} is not supported (only 2 and 3)");
        uint clusterBits = BinaryPrimitives.ReadUInt32BigEndian(head[20..]);
        if (clusterBits is < MinClusterBits or > MaxClusterBits)
            throw Bad($"header at offset 20: cluster_bits {clusterBits} is outside {MinClusterBits}..{MaxClusterBits} (512 B to 2 MiB clusters)");
        long clusterSize = 1L << (int)clusterBits;
        ulong size = BinaryPrimitives.ReadUInt64BigEndian(head[24..]);
        if (size > long.MaxValue / 2)
            throw Bad($"header at offset 24: virtual size {size} is too large");
        uint crypt = BinaryPrimitives.ReadUInt32BigEndian(head[32..]);
        if (crypt != 0)
            throw Bad($"header at offset 32: crypt_method {crypt} (encrypted images) is not supported");
        uint l1Size = BinaryPrimitives.ReadUInt32BigEndian(head[36..]);
        ulong l1Offset = BinaryPrimitives.ReadUInt64BigEndian(head[40..]);
        ulong refTableOffset = BinaryPrimitives.ReadUInt64BigEndian(head[48..]);
        uint refTableClusters = BinaryPrimitives.ReadUInt32BigEndian(head[56..]);
        uint snapshots = BinaryPrimitives.ReadUInt32BigEndian(head[60..]);

        ulong incompatible = 0, compatible = 0, autoclear = 0;
        uint refcountOrder = 4, headerLength = V2Length;
        byte compressionType = 0;
        if (version == 3)
        {
            if (head.Length < V3MinLength)
                throw Bad($"version 3 header is truncated: the file has {fileLength} bytes, the header needs {V3MinLength}");
            incompatible = BinaryPrimitives.ReadUInt64BigEndian(head[72..]);
            compatible = BinaryPrimitives.ReadUInt64BigEndian(head[80..]);
            autoclear = BinaryPrimitives.ReadUInt64BigEndian(head[88..]);
            refcountOrder = BinaryPrimitives.ReadUInt32BigEndian(head[96..]);
            headerLength = BinaryPrimitives.ReadUInt32BigEndian(head[100..]);
            if (headerLength < V3MinLength || headerLength > clusterSize || headerLength % 8 != 0 || headerLength > head.Length)
                throw Bad($"header at offset 100: header_length {headerLength} is not a multiple of 8 between {V3MinLength} and the cluster size {clusterSize} inside the file");
            if (refcountOrder > 6)
                throw Bad($"header at offset 96: refcount_order {refcountOrder} is above 6 (64-bit refcounts)");
            if (headerLength > 104)
                compressionType = head[104];
        }

        // Header extensions: after the header, inside the first cluster.
        string? backingFormat = null;
        var featureNames = new Dictionary<int, string>();
        long pos = headerLength;
        long extensionsEnd = Math.Min(clusterSize, head.Length);
        while (true)
        {
            if (pos + 8 > extensionsEnd)
                throw Bad($"header extension at offset {pos}: runs past the first cluster or the end of the file");
            uint type = BinaryPrimitives.ReadUInt32BigEndian(head[(int)pos..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(head[(int)(pos + 4)..]);
            if (type == ExtensionEnd) break;
            long data = pos + 8;
            if (length > extensionsEnd - data)
                throw Bad($"header extension 0x{type:X8} at offset {pos}: length {length} runs past the first cluster or the end of the file");
            ReadOnlySpan<byte> body = head.Slice((int)data, (int)length);
            if (type == ExtensionBackingFormat)
                backingFormat = Encoding.UTF8.GetString(body);
            else if (type == ExtensionFeatureNames)
            {
                for (int i = 0; i + 48 <= body.Length; i += 48)
                    if (body[i] == 0)
                        featureNames[body[i + 1]] = Encoding.UTF8.GetString(body.Slice(i + 2, 46)).TrimEnd('\0');
            }
            pos = data + ((length + 7L) & ~7L);
        }

        // Incompatible features: refuse what we do not implement, naming the bit.
        ulong unsupported = incompatible & ~(DirtyBit | CorruptBit | CompressionTypeBit);
        if (unsupported != 0)
        {
            int bit = System.Numerics.BitOperations.TrailingZeroCount(unsupported);
            string name = bit switch
            {
                2 => "external data file",
                4 => "extended L2 entries",
                _ => featureNames.TryGetValue(bit, out var n) ? $"'{n}'" : "unknown",
            };
            throw Bad($"header at offset 72: incompatible feature bit {bit} ({name}) is not supported; " +
                (bit == 4 ? "convert the image without extended_l2 (qemu-img convert -O qcow2)" : "this implementation cannot read the image safely"));
        }
        if ((incompatible & CompressionTypeBit) != 0 && compressionType != 0)
            throw Bad($"header at offset 104: compression type {compressionType} (zstd) is not supported; only zlib/deflate (0)");

        // Tables: cluster aligned, inside the file, of sane sizes.
        if (l1Offset % (ulong)clusterSize != 0 || l1Offset == 0)
            throw Bad($"header at offset 40: L1 table offset 0x{l1Offset:X} is not a non-zero multiple of the cluster size {clusterSize}");
        if ((long)l1Size * 8 > MaxL1Bytes)
            throw Bad($"header at offset 36: L1 size {l1Size} entries exceeds {MaxL1Bytes / 8}");
        long l2Coverage = clusterSize * (clusterSize / 8);
        long l1Needed = (long)((size + (ulong)l2Coverage - 1) / (ulong)l2Coverage);
        if (l1Size < l1Needed)
            throw Bad($"header at offset 36: L1 size {l1Size} entries is too small for a virtual size of {size} bytes (needs {l1Needed})");
        if (l1Offset > (ulong)fileLength || (ulong)l1Size * 8 > (ulong)fileLength - l1Offset)
            throw Bad($"L1 table at offset 0x{l1Offset:X} ({l1Size} entries) runs past the end of the file ({fileLength} bytes)");
        if (refTableOffset % (ulong)clusterSize != 0 || refTableOffset == 0)
            throw Bad($"header at offset 48: refcount table offset 0x{refTableOffset:X} is not a non-zero multiple of the cluster size {clusterSize}");
        if (refTableClusters == 0 || (long)refTableClusters * clusterSize > MaxRefcountTableBytes)
            throw Bad($"header at offset 56: refcount table of {refTableClusters} clusters is empty or larger than {MaxRefcountTableBytes} bytes");
        long refTableBytes = (long)refTableClusters * clusterSize;
        if (refTableOffset > (ulong)fileLength || (ulong)refTableBytes > (ulong)fileLength - refTableOffset)
            throw Bad($"refcount table at offset 0x{refTableOffset:X} ({refTableClusters} clusters) runs past the end of the file ({fileLength} bytes)");
        if (Overlaps((long)l1Offset, Math.Max(8L, (long)l1Size * 8), (long)refTableOffset, refTableBytes))
            throw Bad($"refcount table at offset 0x{refTableOffset:X} overlaps the L1 table at offset 0x{l1Offset:X}");
        if (Overlaps(0, clusterSize, (long)refTableOffset, refTableBytes) || Overlaps(0, clusterSize, (long)l1Offset, 8))
            throw Bad("refcount table or L1 table overlaps the header cluster");

        string? backingFile = null;
        ulong backingOffset = BinaryPrimitives.ReadUInt64BigEndian(head[8..]);
        uint backingSize = BinaryPrimitives.ReadUInt32BigEndian(head[16..]);
        if (backingOffset != 0)
        {
            if (backingSize == 0 || backingSize > 1023)
                throw Bad($"header at offset 16: backing file name length {backingSize} is outside 1..1023");
            if (backingOffset > (ulong)Math.Min(clusterSize, head.Length) || backingSize > (ulong)Math.Min(clusterSize, head.Length) - backingOffset)
                throw Bad($"backing file name at offset {backingOffset} ({backingSize} bytes) is outside the first cluster or the file");
            backingFile = Encoding.UTF8.GetString(head.Slice((int)backingOffset, (int)backingSize));
        }

        return new Qcow2Header
        {
            Version = (int)version,
            BackingFileOffset = backingOffset,
            BackingFileSize = backingSize,
            ClusterBits = (int)clusterBits,
            Size = (long)size,
            CryptMethod = crypt,
            L1Size = (int)l1Size,
            L1TableOffset = (long)l1Offset,
            RefcountTableOffset = (long)refTableOffset,
            RefcountTableClusters = (int)refTableClusters,
            SnapshotCount = snapshots,
            IncompatibleFeatures = incompatible,
            CompatibleFeatures = compatible,
            AutoclearFeatures = autoclear,
            RefcountOrder = (int)refcountOrder,
            HeaderLength = (int)headerLength,
            CompressionType = compressionType,
            BackingFile = backingFile,
            BackingFormat = backingFormat,
            IncompatibleFeatureNames = featureNames,
        };
    }

    /// <summary>True when [a, a+aLength) and [b, b+bLength) share a byte.</summary>
    internal static bool Overlaps(long a, long aLength, long b, long bLength) => a < b + bLength && b < a + aLength;
}
