using System.Buffers.Binary;
using System.Text;

namespace StorSharp.Images.Qcow2;

/// <summary>
/// Creates empty qcow2 version 3 images (what <c>qemu-img create -f qcow2 -o compat=1.1</c> makes):
/// header in cluster 0, a one-cluster refcount table, one refcount block (16-bit refcounts), then the L1 table.
/// </summary>
public static class Qcow2Creator
{
    /// <summary>Creates <paramref name="path"/> (which must not exist) as an empty qcow2 image.</summary>
    /// <param name="path">The new file.</param>
    /// <param name="sizeBytes">The virtual size: a positive multiple of 512.</param>
    /// <param name="clusterSize">A power of two from 512 B to 2 MiB; 64 KiB as qemu's default.</param>
    /// <param name="backingFile">A backing file name to record in the header (qemu-img then shows and follows it), or null.</param>
    /// <param name="backingFormat">The backing file's format (<c>raw</c>, <c>qcow2</c>...) for the header extension, or null.</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    /// <exception cref="ArgumentException">A size or cluster size out of range, or a backing name longer than 1023 bytes.</exception>
    /// <exception cref="IOException">The file exists or cannot be created.</exception>
    public static async ValueTask CreateAsync(string path, long sizeBytes, int clusterSize = 65536, string? backingFile = null, string? backingFormat = null, CancellationToken cancellationToken = default)
    {
        if (sizeBytes <= 0 || sizeBytes % 512 != 0)
            throw new ArgumentException($"Virtual size {sizeBytes} is not a positive multiple of 512 bytes.", nameof(sizeBytes));
        if (clusterSize < 512 || clusterSize > 2 << 20 || (clusterSize & (clusterSize - 1)) != 0)
            throw new ArgumentException($"Cluster size {clusterSize} is not a power of two from 512 bytes to 2 MiB.", nameof(clusterSize));
        int clusterBits = System.Numerics.BitOperations.Log2((uint)clusterSize);
        long l2Coverage = (long)clusterSize * (clusterSize / 8);
        long l1Entries = (sizeBytes + l2Coverage - 1) / l2Coverage;
        if (l1Entries * 8 > Qcow2Header.MaxL1Bytes)
            throw new ArgumentException($"A {sizeBytes}-byte image needs an L1 table over {Qcow2Header.MaxL1Bytes} bytes with {clusterSize}-byte clusters; use larger clusters.", nameof(sizeBytes));
        long l1Clusters = Math.Max(1, (l1Entries * 8 + clusterSize - 1) / clusterSize);
        long metadataClusters = 3 + l1Clusters;
        long refblockEntries = clusterSize * 8L / 16;
        if (metadataClusters > refblockEntries)
            throw new ArgumentException($"A {sizeBytes}-byte image has too large an L1 table for {clusterSize}-byte clusters; use larger clusters.", nameof(sizeBytes));
        byte[] backingName = backingFile is null ? [] : Encoding.UTF8.GetBytes(backingFile);
        byte[] formatName = backingFormat is null ? [] : Encoding.UTF8.GetBytes(backingFormat);
        if (backingName.Length > 1023)
            throw new ArgumentException("The backing file name is longer than 1023 bytes.", nameof(backingFile));

        byte[] head = new byte[clusterSize];
        var h = head.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(h, Qcow2Header.Magic);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], 3);
        BinaryPrimitives.WriteUInt32BigEndian(h[20..], (uint)clusterBits);
        BinaryPrimitives.WriteUInt64BigEndian(h[24..], (ulong)sizeBytes);
        BinaryPrimitives.WriteUInt32BigEndian(h[36..], (uint)l1Entries);
        BinaryPrimitives.WriteUInt64BigEndian(h[40..], (ulong)(3L * clusterSize));
        BinaryPrimitives.WriteUInt64BigEndian(h[48..], (ulong)clusterSize);
        BinaryPrimitives.WriteUInt32BigEndian(h[56..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(h[96..], 4);
        BinaryPrimitives.WriteUInt32BigEndian(h[100..], Qcow2Header.V3MinLength);
        int pos = Qcow2Header.V3MinLength;
        if (formatName.Length > 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(h[pos..], Qcow2Header.ExtensionBackingFormat);
            BinaryPrimitives.WriteUInt32BigEndian(h[(pos + 4)..], (uint)formatName.Length);
            formatName.CopyTo(h[(pos + 8)..]);
            pos += 8 + ((formatName.Length + 7) & ~7);
        }
        pos += 8; // end-of-extensions marker (type 0, length 0)
        if (backingName.Length > 0)
        {
            if (pos + backingName.Length > clusterSize)
                throw new ArgumentException("The backing file name does not fit in the header cluster; use larger clusters.", nameof(backingFile));
            BinaryPrimitives.WriteUInt64BigEndian(h[8..], (ulong)pos);
            BinaryPrimitives.WriteUInt32BigEndian(h[16..], (uint)backingName.Length);
            backingName.CopyTo(h[pos..]);
        }

        byte[] refTable = new byte[clusterSize];
        BinaryPrimitives.WriteUInt64BigEndian(refTable, (ulong)(2L * clusterSize));
        byte[] refBlock = new byte[clusterSize];
        for (int i = 0; i < metadataClusters; i++)
            BinaryPrimitives.WriteUInt16BigEndian(refBlock.AsSpan(i * 2), 1);

        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous);
        await RandomAccess.WriteAsync(handle, head, 0, cancellationToken).ConfigureAwait(false);
        await RandomAccess.WriteAsync(handle, refTable, clusterSize, cancellationToken).ConfigureAwait(false);
        await RandomAccess.WriteAsync(handle, refBlock, 2L * clusterSize, cancellationToken).ConfigureAwait(false);
        RandomAccess.SetLength(handle, metadataClusters * clusterSize); // the L1 table: zeros
        await Task.Run(() => RandomAccess.FlushToDisk(handle), cancellationToken).ConfigureAwait(false);
    }
}
