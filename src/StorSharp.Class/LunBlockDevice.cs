using System.Buffers;
using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Class;

/// <summary>
/// A logical unit of an adapter seen as a block device: the class-driver role (disk.sys). Every
/// call becomes one or more SRBs with READ(16), WRITE(16), SYNCHRONIZE CACHE(16), UNMAP, WRITE
/// SAME(16), GET LBA STATUS or PRE-FETCH(16) CDBs, submitted through the port, so the LU's
/// queue, timeouts, resets and fault injection apply exactly as they do to the network front ends.
/// </summary>
/// <remarks>
/// <para>Open one with <see cref="OpenAsync"/>: it reads the geometry with READ CAPACITY(16) and
/// the capabilities from READ CAPACITY(16) (LBPME, LBPRZ), the Block Limits and Block Device
/// Characteristics VPD pages and the MODE SENSE header and caching page (WP, DPOFUA, WCE). What
/// the LU does not report is assumed, then learnt from its answers: a WRITE SAME the LU rejects
/// as an unknown opcode is emulated with writes from then on.</para>
/// <para>Transfers larger than the adapter's <see cref="PortConfiguration.MaximumTransferLength"/>
/// (or the LU's VPD limit) are split. Transient failures (UNIT ATTENTION, ABORTED COMMAND, BUSY, a
/// timeout or a reset) are retried as disk.sys does; final failures throw
/// <see cref="BlockDeviceException"/> with the <see cref="BlockError"/> from
/// <see cref="ScsiSenseMapper"/>.</para>
/// <para>Instances are thread-safe; calls may overlap. The device does not own the adapter:
/// disposing it does nothing to the LU.</para>
/// </remarks>
public sealed class LunBlockDevice : IBlockDevice
{
    private const int StripeCount = 64;
    private const int MaxExtentDescriptors = 512;
    private const int ZeroChunkBytes = 1024 * 1024;

    private readonly LunState _lun;
    private readonly InitiatorNexus _nexus;

    private LunBlockDevice(LunState lun, InitiatorNexus nexus)
    {
        _lun = lun;
        _nexus = nexus;
    }

    /// <summary>The adapter the LU is on.</summary>
    public Adapter Adapter => _lun.Adapter;

    /// <summary>The LU's address.</summary>
    public ScsiAddress Address => _lun.Address;

    /// <summary>The nexus this view's requests carry.</summary>
    public InitiatorNexus Nexus => _nexus;

    /// <inheritdoc/>
    public BlockGeometry Geometry => _lun.Geometry;

    /// <inheritdoc/>
    public BlockDeviceCapabilities Capabilities =>
        Volatile.Read(ref _lun.WriteSameUnsupported) ? _lun.Capabilities & ~BlockDeviceCapabilities.WriteZeroes : _lun.Capabilities;

    /// <summary>The most blocks one READ or WRITE carries (the adapter's and the LU's limits); larger transfers are split.</summary>
    public int MaximumTransferBlocks => _lun.MaxTransferBlocks;

    /// <summary>The most blocks one UNMAP descriptor names (VPD B0h; <see cref="uint.MaxValue"/> when unreported).</summary>
    public uint MaximumUnmapBlocks => _lun.MaxUnmapBlocks;

    /// <summary>The most blocks one WRITE SAME covers.</summary>
    public uint MaximumWriteSameBlocks => _lun.MaxWriteSameBlocks;

    /// <summary>The LU's write-protect bit (MODE SENSE WP) when it was opened.</summary>
    public bool IsWriteProtected => (_lun.Capabilities & BlockDeviceCapabilities.ReadOnly) != 0;

    /// <summary>How many retries a transient failure gets (the options' value, else the LU's <see cref="PortTunables.ClassRetryCount"/>).</summary>
    public int RetryCount => _lun.Options.RetryCount ?? (Adapter.GetLogicalUnit(Address)?.Tunables ?? Adapter.Tunables).ClassRetryCount;

    /// <summary>The pause before retrying after a timeout, reset or BUSY (the options' value, else the LU's <see cref="PortTunables.ClassRetryInterval"/>).</summary>
    public TimeSpan RetryInterval => _lun.Options.RetryInterval ?? (Adapter.GetLogicalUnit(Address)?.Tunables ?? Adapter.Tunables).ClassRetryInterval;

    // ------------------------------------------------------------------ open

    /// <summary>Opens the LU at <paramref name="address"/> of <paramref name="adapter"/>.</summary>
    /// <param name="adapter">A running adapter.</param>
    /// <param name="address">The LU; it must have been found by enumeration.</param>
    /// <param name="options">Nexus and retry settings; defaults when null.</param>
    /// <param name="cancellationToken">Cancels the open between its commands.</param>
    /// <exception cref="BlockDeviceException">No LU at the address (<see cref="BlockError.NotReady"/>), or it failed READ CAPACITY.</exception>
    public static async Task<LunBlockDevice> OpenAsync(Adapter adapter, ScsiAddress address, LunBlockDeviceOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        options ??= new LunBlockDeviceOptions();
        if (adapter.GetLogicalUnit(address) is null)
            throw new BlockDeviceException(BlockError.NotReady, $"{adapter.DeviceName} has no logical unit at {address}; the port found {adapter.LogicalUnits.Count} LU(s).");

        var lun = new LunState(adapter, address, options);
        var probe = new LunBlockDevice(lun, options.Nexus);
        byte[] buffer = new byte[256];

        // TEST UNIT READY first: it collects any UNIT ATTENTION (power on, reset) the LU has queued.
        await probe.RunAsync(new Command(CommandKind.TestUnitReady), default, cancellationToken, throwOnFailure: false).ConfigureAwait(false);

        // READ CAPACITY(16): the geometry and the thin-provisioning bits (SBC-4 §5.21).
        var (rc16, rc16Error, _) = await probe.RunAsync(new Command(CommandKind.ReadCapacity16, Alloc: 32), buffer.AsMemory(0, 32), cancellationToken, throwOnFailure: false).ConfigureAwait(false);
        ReadCapacity16Data capacity;
        if (rc16 == ScsiOutcome.Success && ReadCapacity16Data.TryParse(buffer.AsSpan(0, 32), out capacity) && capacity.BlockLength > 0)
        {
        }
        else
        {
            // READ CAPACITY(10) for LUs that only know it (SBC-4 §5.20); no provisioning bits then.
            var (rc10, rc10Error, moved) = await probe.RunAsync(new Command(CommandKind.ReadCapacity10), buffer.AsMemory(0, 8), cancellationToken, throwOnFailure: false).ConfigureAwait(false);
            if (rc10 != ScsiOutcome.Success || moved < 8)
                throw new BlockDeviceException(rc16 == ScsiOutcome.Failure ? rc16Error : rc10Error,
                    $"{adapter.DeviceName} LU {address}: READ CAPACITY failed ({rc16Error}); the LU cannot be opened.");
            capacity = new ReadCapacity16Data(BinaryPrimitives.ReadUInt32BigEndian(buffer), BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(4)), 0, false, false, 0);
        }
        if (capacity.BlockLength is 0 or > 1024 * 1024 || (capacity.BlockLength & (capacity.BlockLength - 1)) != 0)
            throw new BlockDeviceException(BlockError.InvalidArgument, $"{adapter.DeviceName} LU {address} reports a block length of {capacity.BlockLength}; it must be a power of two.");

        // Block limits (VPD B0h) and rotation rate (VPD B1h), when the LU has them.
        BlockLimits limits = default;
        bool nonRotational = true; // a virtual LU that says nothing: assume no seek cost
        var (supported, _, supportedLength) = await probe.RunAsync(new Command(CommandKind.Inquiry, Alloc: 255, Page: VpdPage.SupportedPages), buffer.AsMemory(0, 255), cancellationToken, throwOnFailure: false).ConfigureAwait(false);
        if (supported == ScsiOutcome.Success && supportedLength >= 4)
        {
            var pages = buffer.AsSpan(4, Math.Min(buffer[3], supportedLength - 4));
            bool hasB0 = pages.Contains((byte)VpdPage.BlockLimits), hasB1 = pages.Contains((byte)VpdPage.BlockDeviceCharacteristics);
            if (hasB0)
            {
                var (ok, _, n) = await probe.RunAsync(new Command(CommandKind.Inquiry, Alloc: 64, Page: VpdPage.BlockLimits), buffer.AsMemory(0, 64), cancellationToken, throwOnFailure: false).ConfigureAwait(false);
                if (ok == ScsiOutcome.Success) BlockLimits.TryParse(buffer.AsSpan(0, n), out limits);
            }
            if (hasB1)
            {
                var (ok, _, n) = await probe.RunAsync(new Command(CommandKind.Inquiry, Alloc: 64, Page: VpdPage.BlockDeviceCharacteristics), buffer.AsMemory(0, 64), cancellationToken, throwOnFailure: false).ConfigureAwait(false);
                // SBC-4 §6.6.2: MEDIUM ROTATION RATE 0001h = non-rotating, 0 = not reported.
                if (ok == ScsiOutcome.Success && n >= 6 && buffer[1] == (byte)VpdPage.BlockDeviceCharacteristics)
                {
                    ushort rate = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(4));
                    nonRotational = rate is 0 or 1;
                }
            }
        }

        // MODE SENSE(6), caching page: WP and DPOFUA in the header (SBC-4 §6.5.1), WCE in page 08h.
        bool writeProtected = false, fua = true, writeCache = true;
        var (ms, _, msLength) = await probe.RunAsync(new Command(CommandKind.ModeSense6, Alloc: 255, ModePage: 0x08), buffer.AsMemory(0, 255), cancellationToken, throwOnFailure: false).ConfigureAwait(false);
        if (ms == ScsiOutcome.Success && msLength >= 4)
        {
            writeProtected = (buffer[2] & 0x80) != 0;
            fua = (buffer[2] & 0x10) != 0;
            int page = 4 + buffer[3];
            if (msLength >= page + 3 && (buffer[page] & 0x3F) == 0x08) writeCache = (buffer[page + 2] & 0x04) != 0;
        }

        var caps = BlockDeviceCapabilities.WriteZeroes
            // Every connection reaches the same LU through the same port, and SYNCHRONIZE CACHE
            // covers the whole LU, so a flush on one makes every completed write durable (NBD CAN_MULTI_CONN).
            | BlockDeviceCapabilities.MultiConnection;
        if (writeProtected) caps |= BlockDeviceCapabilities.ReadOnly;
        if (writeCache) caps |= BlockDeviceCapabilities.Flush;
        if (fua) caps |= BlockDeviceCapabilities.ForceUnitAccess;
        if (capacity.Lbpme) caps |= BlockDeviceCapabilities.Unmap | BlockDeviceCapabilities.ThinProvisioned | BlockDeviceCapabilities.Extents;
        if (capacity.Lbpme && capacity.Lbprz) caps |= BlockDeviceCapabilities.UnmapReadsZeroes;
        if (nonRotational) caps |= BlockDeviceCapabilities.NonRotational;

        int blockSize = (int)capacity.BlockLength;
        long maxTransferBlocks = adapter.Configuration.MaximumTransferLength / blockSize;
        if (limits.MaximumTransferLength != 0) maxTransferBlocks = Math.Min(maxTransferBlocks, limits.MaximumTransferLength);
        if (maxTransferBlocks < 1)
            throw new BlockDeviceException(BlockError.InvalidArgument, $"{adapter.DeviceName}: MaximumTransferLength {adapter.Configuration.MaximumTransferLength} is smaller than one block of {blockSize} bytes.");
        long maxWriteSame = limits.MaximumWriteSameLength != 0 ? (long)Math.Min(limits.MaximumWriteSameLength, uint.MaxValue) : options.DefaultMaximumWriteSameBytes / blockSize;

        lun.Geometry = new BlockGeometry(blockSize, capacity.BlockCount, capacity.PhysicalBlockExponent,
            limits.OptimalTransferLength > 0 ? (int)Math.Min(limits.OptimalTransferLength, int.MaxValue) : 0);
        lun.Capabilities = caps;
        lun.MaxTransferBlocks = (int)Math.Min(maxTransferBlocks, int.MaxValue / blockSize);
        lun.MaxUnmapBlocks = limits.MaximumUnmapLbaCount != 0 ? limits.MaximumUnmapLbaCount : uint.MaxValue;
        lun.MaxWriteSameBlocks = (uint)Math.Clamp(maxWriteSame, 1, uint.MaxValue);
        lun.ZeroBlock = new byte[blockSize];
        return probe;
    }

    /// <summary>A view of the same LU whose requests carry <paramref name="nexus"/> (one per NBD connection or session).</summary>
    public LunBlockDevice WithNexus(InitiatorNexus nexus)
    {
        ArgumentNullException.ThrowIfNull(nexus);
        return new LunBlockDevice(_lun, nexus);
    }

    // ------------------------------------------------------------------ IBlockDevice

    /// <inheritdoc/>
    public async ValueTask ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        long blocks = CheckBlocks(lba, buffer.Length);
        int max = _lun.MaxTransferBlocks;
        if (blocks <= max)
        {
            await TransferAsync(CommandKind.Read, lba, buffer, false, cancellationToken).ConfigureAwait(false);
            return;
        }
        await SplitAsync(CommandKind.Read, lba, buffer, false, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask WriteAsync(long lba, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        long blocks = CheckBlocks(lba, buffer.Length);
        // The port hands the SRB a writable Memory; a write only reads it.
        var memory = System.Runtime.InteropServices.MemoryMarshal.AsMemory(buffer);
        bool fua = (flags & BlockWriteFlags.ForceUnitAccess) != 0;
        if (blocks <= _lun.MaxTransferBlocks)
            await TransferAsync(CommandKind.Write, lba, memory, fua, cancellationToken).ConfigureAwait(false);
        else
            await SplitAsync(CommandKind.Write, lba, memory, fua, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        // SYNCHRONIZE CACHE(16) with LBA 0 and count 0: the whole medium (SBC-4 §5.29).
        await RunAsync(new Command(CommandKind.SynchronizeCache), default, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask UnmapAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        CheckRange(lba, blockCount);
        if ((_lun.Capabilities & BlockDeviceCapabilities.Unmap) == 0)
            throw new BlockDeviceException(BlockError.NotSupported, $"LU {Address} is not thin provisioned (LBPME = 0): it has no UNMAP.");
        byte[] list = new byte[UnmapParameterList.GetLength(1)];
        while (blockCount > 0)
        {
            uint n = (uint)Math.Min(blockCount, _lun.MaxUnmapBlocks);
            UnmapParameterList.WriteHeader(list, 1);
            UnmapParameterList.WriteDescriptor(list, 0, lba, n);
            await RunAsync(new Command(CommandKind.Unmap, Alloc: (ushort)list.Length), list, cancellationToken).ConfigureAwait(false);
            lba += n;
            blockCount -= n;
        }
    }

    /// <inheritdoc/>
    public async ValueTask WriteZeroesAsync(long lba, long blockCount, WriteZeroesFlags flags = WriteZeroesFlags.None, CancellationToken cancellationToken = default)
    {
        CheckRange(lba, blockCount);
        bool unmap = (flags & WriteZeroesFlags.MayUnmap) != 0 && (_lun.Capabilities & BlockDeviceCapabilities.Unmap) != 0;
        long start = lba, count = blockCount;
        while (blockCount > 0 && !Volatile.Read(ref _lun.WriteSameUnsupported))
        {
            uint n = (uint)Math.Min(blockCount, _lun.MaxWriteSameBlocks);
            var (outcome, error, _) = await RunAsync(new Command(CommandKind.WriteSame, lba, n, Flag: unmap), _lun.ZeroBlock, cancellationToken, throwOnFailure: false).ConfigureAwait(false);
            if (outcome != ScsiOutcome.Success)
            {
                if (error != BlockError.NotSupported)
                    throw new BlockDeviceException(error, $"WRITE SAME(16) of {n} block(s) at {lba} on LU {Address} failed: {error}.");
                Volatile.Write(ref _lun.WriteSameUnsupported, true); // learnt: emulate from now on
                break;
            }
            lba += n;
            blockCount -= n;
        }
        if (blockCount > 0)
        {
            if ((flags & WriteZeroesFlags.FastOnly) != 0)
                throw new BlockDeviceException(BlockError.NotSupported, $"LU {Address} has no WRITE SAME(16); zeroing would take plain writes (FAST_ZERO refused).");
            await WriteZeroesByWritesAsync(lba, blockCount, cancellationToken).ConfigureAwait(false);
        }
        // WRITE SAME has no FUA bit: make the zeros durable with a flush of the range.
        if ((flags & WriteZeroesFlags.ForceUnitAccess) != 0)
            await SynchronizeRangeAsync(start, count, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<int> GetExtentsAsync(long lba, long blockCount, Memory<BlockExtent> destination, CancellationToken cancellationToken = default)
    {
        CheckRange(lba, blockCount);
        if (blockCount == 0 || destination.IsEmpty) return 0;
        if ((_lun.Capabilities & BlockDeviceCapabilities.Extents) == 0)
        {
            destination.Span[0] = new BlockExtent(lba, blockCount, BlockExtentFlags.Data);
            return 1;
        }
        int want = Math.Min(destination.Length, MaxExtentDescriptors);
        int alloc = LbaStatusDescriptor.HeaderLength + LbaStatusDescriptor.Length * want;
        byte[] data = ArrayPool<byte>.Shared.Rent(alloc);
        try
        {
            var (_, _, moved) = await RunAsync(new Command(CommandKind.GetLbaStatus, lba, Alloc: (ushort)Math.Min(alloc, ushort.MaxValue)), data.AsMemory(0, alloc), cancellationToken).ConfigureAwait(false);
            return FillExtents(data.AsSpan(0, moved), lba, blockCount, destination.Span);
        }
        finally { ArrayPool<byte>.Shared.Return(data); }
    }

    private int FillExtents(ReadOnlySpan<byte> data, long lba, long blockCount, Span<BlockExtent> destination)
    {
        bool lbprz = (_lun.Capabilities & BlockDeviceCapabilities.UnmapReadsZeroes) != 0;
        long end = lba + blockCount, next = lba;
        int count = 0, descriptors = LbaStatusDescriptor.CountIn(data);
        for (int i = 0; i < descriptors && next < end && count < destination.Length; i++)
        {
            var d = LbaStatusDescriptor.Read(data, i);
            long dEnd = d.Lba + d.BlockCount;
            // SBC-4 §5.6.2: descriptors run in LBA order from the starting LBA; stop at a gap.
            if (d.BlockCount == 0 || d.Lba > next || dEnd <= next) break;
            var flags = d.Status switch
            {
                ProvisioningStatus.Deallocated => BlockExtentFlags.Hole | (lbprz ? BlockExtentFlags.Zero : 0),
                ProvisioningStatus.Anchored => lbprz ? BlockExtentFlags.Zero : BlockExtentFlags.Data,
                _ => BlockExtentFlags.Data,
            };
            long runEnd = Math.Min(dEnd, end);
            if (count > 0 && destination[count - 1].Flags == flags)
                destination[count - 1] = destination[count - 1] with { BlockCount = runEnd - destination[count - 1].Lba };
            else
                destination[count++] = new BlockExtent(next, runEnd - next, flags);
            next = runEnd;
        }
        if (count == 0) destination[count++] = new BlockExtent(lba, blockCount, BlockExtentFlags.Data); // nothing usable: say "data"
        return count;
    }

    /// <summary>PRE-FETCH(16): asks the LU to bring the range into its cache. An LU without the command succeeds silently (it is advisory).</summary>
    public async ValueTask PreFetchAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        CheckRange(lba, blockCount);
        while (blockCount > 0)
        {
            uint n = (uint)Math.Min(blockCount, uint.MaxValue);
            var (outcome, error, _) = await RunAsync(new Command(CommandKind.PreFetch, lba, n), default, cancellationToken, throwOnFailure: false).ConfigureAwait(false);
            if (outcome != ScsiOutcome.Success)
            {
                if (error == BlockError.NotSupported) return;
                throw new BlockDeviceException(error, $"PRE-FETCH(16) at {lba} on LU {Address} failed: {error}.");
            }
            lba += n;
            blockCount -= n;
        }
    }

    /// <summary>SYNCHRONIZE CACHE(16) of one range only.</summary>
    public async ValueTask SynchronizeRangeAsync(long lba, long blockCount, CancellationToken cancellationToken = default)
    {
        CheckRange(lba, blockCount);
        while (blockCount > 0)
        {
            uint n = (uint)Math.Min(blockCount, uint.MaxValue);
            await RunAsync(new Command(CommandKind.SynchronizeCache, lba, n), default, cancellationToken).ConfigureAwait(false);
            lba += n;
            blockCount -= n;
        }
    }

    // ------------------------------------------------------------------ byte offsets

    /// <summary>
    /// Reads <paramref name="buffer"/>.Length bytes at byte <paramref name="offset"/>; a range that
    /// does not start or end on a block boundary reads the partial blocks into a bounce buffer.
    /// </summary>
    public async ValueTask ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        int bs = Geometry.LogicalBlockSize;
        if (offset % bs == 0 && buffer.Length % bs == 0)
        {
            if (!buffer.IsEmpty) await ReadAsync(offset / bs, buffer, cancellationToken).ConfigureAwait(false);
            return;
        }
        byte[] bounce = ArrayPool<byte>.Shared.Rent(bs);
        try
        {
            int within = (int)(offset % bs);
            if (within != 0 || buffer.Length < bs)
            {
                int n = Math.Min(bs - within, buffer.Length);
                await ReadAsync(offset / bs, bounce.AsMemory(0, bs), cancellationToken).ConfigureAwait(false);
                bounce.AsSpan(within, n).CopyTo(buffer.Span);
                offset += n;
                buffer = buffer[n..];
            }
            int middle = buffer.Length / bs * bs;
            if (middle > 0)
            {
                await ReadAsync(offset / bs, buffer[..middle], cancellationToken).ConfigureAwait(false);
                offset += middle;
                buffer = buffer[middle..];
            }
            if (!buffer.IsEmpty)
            {
                await ReadAsync(offset / bs, bounce.AsMemory(0, bs), cancellationToken).ConfigureAwait(false);
                bounce.AsSpan(0, buffer.Length).CopyTo(buffer.Span);
            }
        }
        finally { ArrayPool<byte>.Shared.Return(bounce); }
    }

    /// <summary>
    /// Writes <paramref name="buffer"/> at byte <paramref name="offset"/>. Partial blocks at either
    /// end are read, patched and written back (read-modify-write), serialised against other
    /// unaligned writes to the same block; an aligned write racing with an unaligned one to the
    /// same block is, as on a real disk, unordered.
    /// </summary>
    public async ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> buffer, BlockWriteFlags flags = BlockWriteFlags.None, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        int bs = Geometry.LogicalBlockSize;
        if (offset % bs == 0 && buffer.Length % bs == 0)
        {
            if (!buffer.IsEmpty) await WriteAsync(offset / bs, buffer, flags, cancellationToken).ConfigureAwait(false);
            return;
        }
        byte[] bounce = ArrayPool<byte>.Shared.Rent(bs);
        try
        {
            int within = (int)(offset % bs);
            if (within != 0 || buffer.Length < bs)
            {
                int n = Math.Min(bs - within, buffer.Length);
                await PatchBlockAsync(offset / bs, within, buffer[..n], bounce, flags, cancellationToken).ConfigureAwait(false);
                offset += n;
                buffer = buffer[n..];
            }
            int middle = buffer.Length / bs * bs;
            if (middle > 0)
            {
                await WriteAsync(offset / bs, buffer[..middle], flags, cancellationToken).ConfigureAwait(false);
                offset += middle;
                buffer = buffer[middle..];
            }
            if (!buffer.IsEmpty)
                await PatchBlockAsync(offset / bs, 0, buffer, bounce, flags, cancellationToken).ConfigureAwait(false);
        }
        finally { ArrayPool<byte>.Shared.Return(bounce); }
    }

    private async ValueTask PatchBlockAsync(long lba, int within, ReadOnlyMemory<byte> part, byte[] bounce, BlockWriteFlags flags, CancellationToken cancellationToken)
    {
        int bs = Geometry.LogicalBlockSize;
        var stripe = _lun.Stripes[(int)((ulong)lba % StripeCount)];
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReadAsync(lba, bounce.AsMemory(0, bs), cancellationToken).ConfigureAwait(false);
            part.Span.CopyTo(bounce.AsSpan(within));
            await WriteAsync(lba, bounce.AsMemory(0, bs), flags, cancellationToken).ConfigureAwait(false);
        }
        finally { stripe.Release(); }
    }

    /// <summary>Nothing to release: the device does not own the adapter or the LU.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Adapter, address and geometry, for logs.</summary>
    public override string ToString() => $"{Adapter.DeviceName} LU {Address}: {Geometry.BlockCount} x {Geometry.LogicalBlockSize} bytes";

    // ------------------------------------------------------------------ machinery

    private long CheckBlocks(long lba, int length)
    {
        int bs = Geometry.LogicalBlockSize;
        if (length % bs != 0)
            throw new BlockDeviceException(BlockError.InvalidArgument, $"A transfer of {length} bytes is not a whole number of {bs}-byte blocks.");
        if (lba < 0) throw new BlockDeviceException(BlockError.OutOfRange, $"LBA {lba} is negative.");
        return length / bs;
    }

    private static void CheckRange(long lba, long blockCount)
    {
        if (lba < 0 || blockCount < 0)
            throw new BlockDeviceException(BlockError.OutOfRange, $"The range ({lba}, {blockCount}) is negative.");
    }

    private async ValueTask TransferAsync(CommandKind kind, long lba, Memory<byte> buffer, bool fua, CancellationToken cancellationToken)
    {
        if (buffer.IsEmpty) return;
        int blocks = buffer.Length / Geometry.LogicalBlockSize;
        var (_, _, moved) = await RunAsync(new Command(kind, lba, (uint)blocks, Flag: fua), buffer, cancellationToken).ConfigureAwait(false);
        if (moved < buffer.Length)
            throw new BlockDeviceException(BlockError.MediumError, $"{(kind == CommandKind.Read ? "READ" : "WRITE")}(16) of {blocks} block(s) at {lba} on LU {Address} moved only {moved} of {buffer.Length} bytes.");
    }

    private async ValueTask SplitAsync(CommandKind kind, long lba, Memory<byte> buffer, bool fua, CancellationToken cancellationToken)
    {
        int chunk = _lun.MaxTransferBlocks * Geometry.LogicalBlockSize;
        int parts = (buffer.Length + chunk - 1) / chunk;
        var tasks = new Task[parts];
        for (int i = 0; i < parts; i++)
        {
            int from = i * chunk;
            var piece = buffer.Slice(from, Math.Min(chunk, buffer.Length - from));
            tasks[i] = TransferAsync(kind, lba + from / Geometry.LogicalBlockSize, piece, fua, cancellationToken).AsTask();
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async ValueTask WriteZeroesByWritesAsync(long lba, long blockCount, CancellationToken cancellationToken)
    {
        int bs = Geometry.LogicalBlockSize;
        int chunkBlocks = Math.Max(1, Math.Min(ZeroChunkBytes / bs, _lun.MaxTransferBlocks));
        byte[] zeros = ArrayPool<byte>.Shared.Rent(chunkBlocks * bs);
        try
        {
            Array.Clear(zeros, 0, chunkBlocks * bs);
            while (blockCount > 0)
            {
                int n = (int)Math.Min(blockCount, chunkBlocks);
                await TransferAsync(CommandKind.Write, lba, zeros.AsMemory(0, n * bs), false, cancellationToken).ConfigureAwait(false);
                lba += n;
                blockCount -= n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(zeros); }
    }

    /// <summary>
    /// Runs one command through the port, retrying transient failures as disk.sys does: at once
    /// after UNIT ATTENTION (it is consumed by the failing command), after the retry interval
    /// after a timeout, reset or BUSY.
    /// </summary>
    /// <returns>The outcome, the error when it failed, and the bytes moved.</returns>
    private async ValueTask<(ScsiOutcome Outcome, BlockError Error, int Moved)> RunAsync(Command command, Memory<byte> data, CancellationToken cancellationToken, bool throwOnFailure = true)
    {
        int retries = RetryCount;
        for (int attempt = 0; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var srb = SrbPool.Shared.Rent();
            ScsiOutcome outcome;
            BlockError error;
            int moved;
            bool unitAttention = false;
            try
            {
                Build(srb, command);
                srb.Address = Address;
                srb.Nexus = _nexus;
                if (!data.IsEmpty) srb.Data.Add(data);
                await ClassRetry.ExecuteAsync(Adapter, srb).ConfigureAwait(false); // a miniport timeout: event 153 and a retry
                outcome = ScsiSenseMapper.Classify(srb, out error);
                if (outcome == ScsiOutcome.Retry && ClassRetry.RetriesExhausted(srb)) outcome = ScsiOutcome.Failure; // event 11 logged
                moved = srb.DataTransferLength;
                // An answer shorter than the allocation length is normal for INQUIRY, MODE SENSE and
                // friends; miniports report it as DATA_OVERRUN (underrun). For READ and WRITE it is not.
                if (srb.Status == SrbStatus.DataOverrun && command.Kind is not (CommandKind.Read or CommandKind.Write))
                    outcome = ScsiOutcome.Success;
                if (outcome == ScsiOutcome.Retry && srb.ScsiStatus == ScsiStatus.CheckCondition &&
                    SenseData.TryParse(srb.SenseData, out var sense) && sense.Code.Key == SenseKey.UnitAttention)
                    unitAttention = true;
            }
            finally { srb.Release(); }

            if (outcome == ScsiOutcome.Success) return (outcome, error, moved);
            if (outcome == ScsiOutcome.Retry && attempt < retries)
            {
                if (!unitAttention) await Task.Delay(RetryInterval, Adapter.Time, cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (outcome == ScsiOutcome.Retry) error = error == BlockError.NoSpace ? BlockError.NoSpace : BlockError.MediumError; // retries ran out: EIO
            if (throwOnFailure)
                throw new BlockDeviceException(error, $"{command.Kind} on {Adapter.DeviceName} LU {Address} failed: {error}.");
            return (ScsiOutcome.Failure, error, 0);
        }
    }

    private static void Build(Srb srb, in Command c)
    {
        switch (c.Kind)
        {
            case CommandKind.Read: ScsiCdb.Read16(srb, c.Lba, c.Blocks, c.Flag); break;
            case CommandKind.Write: ScsiCdb.Write16(srb, c.Lba, c.Blocks, c.Flag); break;
            case CommandKind.SynchronizeCache: ScsiCdb.SynchronizeCache16(srb, c.Lba, c.Blocks); break;
            case CommandKind.WriteSame: ScsiCdb.WriteSame16(srb, c.Lba, c.Blocks, unmap: c.Flag); break;
            case CommandKind.Unmap: ScsiCdb.Unmap(srb, c.Alloc); break;
            case CommandKind.GetLbaStatus: ScsiCdb.GetLbaStatus(srb, c.Lba, c.Alloc); break;
            case CommandKind.PreFetch: ScsiCdb.PreFetch16(srb, c.Lba, c.Blocks); break;
            case CommandKind.ReadCapacity16: ScsiCdb.ReadCapacity16(srb, c.Alloc); break;
            case CommandKind.ReadCapacity10:
                var cdb = srb.InitCdb(10);
                cdb[0] = (byte)ScsiOpcode.ReadCapacity10;
                srb.Function = SrbFunction.ExecuteScsi;
                srb.Direction = DataDirection.In;
                break;
            case CommandKind.Inquiry: ScsiCdb.Inquiry(srb, c.Alloc, c.Page); break;
            case CommandKind.ModeSense6: ScsiCdb.ModeSense6(srb, c.ModePage, (byte)Math.Min(c.Alloc, (ushort)255)); break;
            case CommandKind.TestUnitReady: ScsiCdb.TestUnitReady(srb); break;
            default: throw new ArgumentOutOfRangeException(nameof(c));
        }
    }

    private enum CommandKind
    {
        Read, Write, SynchronizeCache, WriteSame, Unmap, GetLbaStatus, PreFetch,
        ReadCapacity16, ReadCapacity10, Inquiry, ModeSense6, TestUnitReady,
    }

    private readonly record struct Command(CommandKind Kind, long Lba = 0, uint Blocks = 0, bool Flag = false, ushort Alloc = 0, VpdPage? Page = null, byte ModePage = 0);

    /// <summary>What every view of one LU shares.</summary>
    private sealed class LunState(Adapter adapter, ScsiAddress address, LunBlockDeviceOptions options)
    {
        public readonly Adapter Adapter = adapter;
        public readonly ScsiAddress Address = address;
        public readonly LunBlockDeviceOptions Options = options;
        public readonly SemaphoreSlim[] Stripes = CreateStripes();
        public BlockGeometry Geometry;
        public BlockDeviceCapabilities Capabilities;
        public int MaxTransferBlocks = 1;
        public uint MaxUnmapBlocks = uint.MaxValue;
        public uint MaxWriteSameBlocks = uint.MaxValue;
        public bool WriteSameUnsupported;
        public byte[] ZeroBlock = [];

        private static SemaphoreSlim[] CreateStripes()
        {
            var s = new SemaphoreSlim[StripeCount];
            for (int i = 0; i < s.Length; i++) s[i] = new SemaphoreSlim(1, 1);
            return s;
        }
    }
}
