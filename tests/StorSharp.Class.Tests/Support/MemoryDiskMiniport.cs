using System.Buffers.Binary;
using System.Collections.Concurrent;
using StorSharp.Port;

namespace StorSharp.Testing.Disk;

/// <summary>One LU of a <see cref="MemoryDiskMiniport"/>: a byte array plus a per-block "mapped" map.</summary>
public sealed class MemoryDisk
{
    public MemoryDisk(long sizeBytes, int blockSize = 512, bool thin = true, bool writeProtected = false)
    {
        BlockSize = blockSize;
        Bytes = new byte[sizeBytes];
        Mapped = new bool[sizeBytes / blockSize];
        Thin = thin;
        WriteProtected = writeProtected;
        if (!thin) Array.Fill(Mapped, true);
    }

    public int BlockSize { get; }
    public byte[] Bytes { get; }
    public bool[] Mapped { get; }
    public bool Thin { get; }
    public bool WriteProtected { get; set; }
    public long BlockCount => Bytes.Length / BlockSize;
    public int Flushes;
    public int FuaWrites;
    public int WriteSames;
    public int Unmaps;
    public int PreFetches;
    public bool SupportsWriteSame { get; set; } = true;
    public uint MaxUnmapBlocks { get; set; }
}

/// <summary>
/// A small SCSI disk miniport over byte arrays, for tests of the class layer and the NBD server
/// until the real ScsiDiskMiniport lands. Answers TEST UNIT READY, INQUIRY (standard, VPD 00/B0/B1),
/// REPORT LUNS, READ CAPACITY 10/16, MODE SENSE(6), READ/WRITE(16), SYNCHRONIZE CACHE(16), UNMAP,
/// WRITE SAME(16), GET LBA STATUS and PRE-FETCH(16); anything else gets INVALID COMMAND OPERATION CODE.
/// </summary>
public sealed class MemoryDiskMiniport : IVirtualMiniport
{
    private readonly MemoryDisk[] _disks;
    private readonly int _maxTransfer;
    private readonly ConcurrentDictionary<Srb, byte> _held = new();
    private IPortServices _port = null!;

    public MemoryDiskMiniport(int maxTransferLength, params MemoryDisk[] disks)
    {
        _disks = disks;
        _maxTransfer = maxTransferLength;
    }

    /// <summary>Called before each request: return true to keep the SRB (it is completed later by <see cref="ReleaseHeld"/> or a reset).</summary>
    public Func<Srb, bool>? Hold { get; set; }

    /// <summary>Called before each request: return sense (key, asc, ascq) to fail it with CHECK CONDITION.</summary>
    public Func<Srb, (byte Key, byte Asc, byte Ascq)?>? Fail { get; set; }

    /// <summary>Complete requests on the thread pool instead of inline.</summary>
    public bool CompleteAsynchronously { get; set; }

    public int Requests;

    public int HeldCount => _held.Count;

    public static VirtualMiniportRegistration Registration(MemoryDiskMiniport miniport) =>
        new() { Name = "MemoryDisk", CreateMiniport = () => miniport };

    public static async Task<(StoragePort Port, Adapter Adapter, MemoryDiskMiniport Miniport)> StartAsync(int maxTransferLength = 1024 * 1024, PortOptions? options = null, params MemoryDisk[] disks)
    {
        var miniport = new MemoryDiskMiniport(maxTransferLength, disks);
        var port = new StoragePort(options);
        var adapter = await port.AddAdapterAsync(Registration(miniport));
        return (port, adapter, miniport);
    }

    public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments)
    {
        _port = port;
        configuration.NumberOfBuses = 1;
        configuration.MaximumNumberOfTargets = 1;
        configuration.MaximumNumberOfLogicalUnits = Math.Max(1, _disks.Length);
        configuration.MaximumTransferLength = _maxTransfer;
        configuration.CachesData = true;
        return FindAdapterResult.Found;
    }

    public bool Initialize() => true;

    public bool ResetBus(byte pathId)
    {
        foreach (var srb in _held.Keys)
            if (_held.TryRemove(srb, out _)) { srb.Status = SrbStatus.BusReset; _port.CompleteRequest(srb); }
        return true;
    }

    public ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported)
    {
        if (type == AdapterControlType.QuerySupportedControlTypes) supported.Add(AdapterControlType.StopAdapter);
        return ControlStatus.Success;
    }

    public void FreeAdapterResources() { }

    /// <summary>Completes every held request normally.</summary>
    public void ReleaseHeld()
    {
        foreach (var srb in _held.Keys)
            if (_held.TryRemove(srb, out _)) { Execute(srb); _port.CompleteRequest(srb); }
    }

    public bool StartIo(Srb srb)
    {
        Interlocked.Increment(ref Requests);
        if (Hold?.Invoke(srb) == true) { _held[srb] = 0; return true; }
        if (CompleteAsynchronously)
        {
            ThreadPool.UnsafeQueueUserWorkItem(s => { Execute(s); _port.CompleteRequest(s); }, srb, preferLocal: false);
            return true;
        }
        Execute(srb);
        _port.CompleteRequest(srb);
        return true;
    }

    private void Execute(Srb srb)
    {
        if (srb.Function == SrbFunction.Flush || srb.Function == SrbFunction.Shutdown) { srb.Status = SrbStatus.Success; return; }
        if (srb.Function != SrbFunction.ExecuteScsi) { srb.Status = SrbStatus.BadFunction; return; }
        if (srb.Address.Lun >= _disks.Length || srb.Address.PathId != 0 || srb.Address.TargetId != 0)
        {
            // INQUIRY to a LUN that is not there: peripheral qualifier 3.
            if (srb.OperationCode == 0x12 && srb.Address.TargetId == 0 && srb.Address.PathId == 0)
            {
                Span<byte> inq = stackalloc byte[36];
                inq.Clear();
                inq[0] = 0x7F;
                Answer(srb, inq);
                return;
            }
            srb.Status = SrbStatus.NoDevice;
            return;
        }
        if (Fail?.Invoke(srb) is { } f) { CheckCondition(srb, f.Key, f.Asc, f.Ascq); return; }
        var disk = _disks[srb.Address.Lun];
        var cdb = srb.Cdb;
        srb.Status = SrbStatus.Success;
        srb.ScsiStatus = ScsiStatus.Good;
        switch (cdb[0])
        {
            case 0x00: return; // TEST UNIT READY
            case 0x12: Inquiry(srb, disk); return;
            case 0xA0: ReportLuns(srb); return;
            case 0x25:
            {
                Span<byte> d = stackalloc byte[8];
                BinaryPrimitives.WriteUInt32BigEndian(d, (uint)Math.Min(disk.BlockCount - 1, uint.MaxValue));
                BinaryPrimitives.WriteUInt32BigEndian(d[4..], (uint)disk.BlockSize);
                Answer(srb, d);
                return;
            }
            case 0x9E when (cdb[1] & 0x1F) == 0x10:
            {
                Span<byte> d = stackalloc byte[32];
                d.Clear();
                BinaryPrimitives.WriteInt64BigEndian(d, disk.BlockCount - 1);
                BinaryPrimitives.WriteUInt32BigEndian(d[8..], (uint)disk.BlockSize);
                if (disk.Thin) d[14] = 0xC0; // LBPME, LBPRZ
                Answer(srb, d[..(int)Math.Min(32, BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]))]);
                return;
            }
            case 0x9E when (cdb[1] & 0x1F) == 0x12: GetLbaStatus(srb, disk); return;
            case 0x1A:
            {
                Span<byte> d = stackalloc byte[4 + 20];
                d.Clear();
                d[0] = (byte)(d.Length - 1);
                d[2] = (byte)((disk.WriteProtected ? 0x80 : 0) | 0x10);
                d[4] = 0x08; d[5] = 18; d[6] = 0x04; // caching page, WCE
                Answer(srb, d[..Math.Min(d.Length, (int)cdb[4])]);
                return;
            }
            case 0x88: case 0x8A: case 0x93: case 0x90: case 0x91:
            {
                long lba = BinaryPrimitives.ReadInt64BigEndian(cdb[2..]);
                long count = BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]);
                if (cdb[0] == 0x91 && count == 0) count = Math.Max(0, disk.BlockCount - lba);
                if (lba < 0 || lba > disk.BlockCount || count > disk.BlockCount - lba) { CheckCondition(srb, 0x5, 0x21, 0x00); return; }
                long offset = lba * disk.BlockSize;
                int bytes = (int)(count * disk.BlockSize);
                switch (cdb[0])
                {
                    case 0x88:
                        if (srb.Data.Length < bytes) { CheckCondition(srb, 0x5, 0x24, 0x00); return; }
                        srb.Data.CopyFrom(0, disk.Bytes.AsSpan((int)offset, bytes));
                        srb.DataTransferLength = bytes;
                        return;
                    case 0x8A:
                        if (disk.WriteProtected) { CheckCondition(srb, 0x7, 0x27, 0x00); return; }
                        if (srb.Data.Length < bytes) { CheckCondition(srb, 0x5, 0x24, 0x00); return; }
                        srb.Data.CopyTo(0, disk.Bytes.AsSpan((int)offset, bytes));
                        Array.Fill(disk.Mapped, true, (int)lba, (int)count);
                        if ((cdb[1] & 0x08) != 0) Interlocked.Increment(ref disk.FuaWrites);
                        srb.DataTransferLength = bytes;
                        return;
                    case 0x93:
                        if (!disk.SupportsWriteSame) { CheckCondition(srb, 0x5, 0x20, 0x00); return; }
                        if (disk.WriteProtected) { CheckCondition(srb, 0x7, 0x27, 0x00); return; }
                        Interlocked.Increment(ref disk.WriteSames);
                        Span<byte> block = stackalloc byte[disk.BlockSize];
                        block.Clear();
                        if ((cdb[1] & 0x01) == 0) srb.Data.CopyTo(0, block);
                        for (long b = 0; b < count; b++) block.CopyTo(disk.Bytes.AsSpan((int)(offset + b * disk.BlockSize), disk.BlockSize));
                        bool unmap = (cdb[1] & 0x08) != 0 && disk.Thin && !block.ContainsAnyExcept((byte)0);
                        Array.Fill(disk.Mapped, !unmap, (int)lba, (int)count);
                        return;
                    case 0x90:
                        Interlocked.Increment(ref disk.PreFetches);
                        srb.ScsiStatus = ScsiStatus.ConditionMet;
                        return;
                    case 0x91:
                        Interlocked.Increment(ref disk.Flushes);
                        return;
                }
                return;
            }
            case 0x42: Unmap(srb, disk); return;
            default:
                CheckCondition(srb, 0x5, 0x20, 0x00);
                return;
        }
    }

    private static void Inquiry(Srb srb, MemoryDisk disk)
    {
        var cdb = srb.Cdb;
        int alloc = BinaryPrimitives.ReadUInt16BigEndian(cdb[3..]);
        Span<byte> d = stackalloc byte[64];
        d.Clear();
        if ((cdb[1] & 1) == 0)
        {
            d[2] = 6; d[3] = 2; d[4] = 31; d[7] = 0x02;
            "STORSHRP"u8.CopyTo(d[8..]);
            "MEMORY DISK     "u8.CopyTo(d[16..]);
            "0001"u8.CopyTo(d[32..]);
            Answer(srb, d[..Math.Min(36, alloc)]);
            return;
        }
        switch (cdb[2])
        {
            case 0x00:
                d[1] = 0; d[3] = 3; d[4] = 0x00; d[5] = 0xB0; d[6] = 0xB1;
                Answer(srb, d[..Math.Min(7, alloc)]);
                return;
            case 0xB0:
                d[1] = 0xB0; d[3] = 0x3C;
                BinaryPrimitives.WriteUInt32BigEndian(d[12..], 8); // optimal transfer length: 8 blocks
                BinaryPrimitives.WriteUInt32BigEndian(d[20..], disk.MaxUnmapBlocks != 0 ? disk.MaxUnmapBlocks : uint.MaxValue);
                BinaryPrimitives.WriteUInt32BigEndian(d[24..], 1);
                Answer(srb, d[..Math.Min(64, alloc)]);
                return;
            case 0xB1:
                d[1] = 0xB1; d[3] = 0x3C; d[5] = 1; // non-rotating
                Answer(srb, d[..Math.Min(64, alloc)]);
                return;
            default:
                CheckCondition(srb, 0x5, 0x24, 0x00);
                return;
        }
    }

    private void ReportLuns(Srb srb)
    {
        Span<byte> d = stackalloc byte[8 + 8 * _disks.Length];
        d.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(8 * _disks.Length));
        for (int i = 0; i < _disks.Length; i++) d[8 + 8 * i + 1] = (byte)i;
        Answer(srb, d);
    }

    private static void Unmap(Srb srb, MemoryDisk disk)
    {
        if (!disk.Thin) { CheckCondition(srb, 0x5, 0x20, 0x00); return; }
        if (disk.WriteProtected) { CheckCondition(srb, 0x7, 0x27, 0x00); return; }
        int length = BinaryPrimitives.ReadUInt16BigEndian(srb.Cdb[7..]);
        var list = new byte[length];
        srb.Data.CopyTo(0, list);
        int descriptors = (BinaryPrimitives.ReadUInt16BigEndian(list.AsSpan(2)) / 16);
        for (int i = 0; i < descriptors; i++)
        {
            long lba = BinaryPrimitives.ReadInt64BigEndian(list.AsSpan(8 + 16 * i));
            long count = BinaryPrimitives.ReadUInt32BigEndian(list.AsSpan(16 + 16 * i));
            if (lba < 0 || lba > disk.BlockCount || count > disk.BlockCount - lba) { CheckCondition(srb, 0x5, 0x21, 0x00); return; }
            if (disk.MaxUnmapBlocks != 0 && count > disk.MaxUnmapBlocks) { CheckCondition(srb, 0x5, 0x26, 0x00); return; }
            disk.Bytes.AsSpan((int)(lba * disk.BlockSize), (int)(count * disk.BlockSize)).Clear();
            Array.Fill(disk.Mapped, false, (int)lba, (int)count);
        }
        Interlocked.Increment(ref disk.Unmaps);
    }

    private static void GetLbaStatus(Srb srb, MemoryDisk disk)
    {
        var cdb = srb.Cdb;
        long lba = BinaryPrimitives.ReadInt64BigEndian(cdb[2..]);
        int alloc = (int)BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]);
        if (lba < 0 || lba >= disk.BlockCount) { CheckCondition(srb, 0x5, 0x21, 0x00); return; }
        int max = Math.Max(0, (alloc - 8) / 16);
        var d = new byte[8 + 16 * Math.Max(1, max)];
        int n = 0;
        long b = lba;
        while (b < disk.BlockCount && n < max)
        {
            bool m = disk.Mapped[b];
            long e = b;
            while (e < disk.BlockCount && disk.Mapped[e] == m && e - b < uint.MaxValue) e++;
            BinaryPrimitives.WriteInt64BigEndian(d.AsSpan(8 + 16 * n), b);
            BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(16 + 16 * n), (uint)(e - b));
            d[20 + 16 * n] = m ? (byte)0 : (byte)1;
            n++;
            b = e;
        }
        BinaryPrimitives.WriteUInt32BigEndian(d, (uint)(4 + 16 * n));
        Answer(srb, d.AsSpan(0, Math.Min(8 + 16 * n, alloc)));
    }

    private static void Answer(Srb srb, ReadOnlySpan<byte> data)
    {
        int n = (int)Math.Min(data.Length, srb.Data.Length);
        srb.Data.CopyFrom(0, data[..n]);
        srb.DataTransferLength = n;
        srb.Status = n < srb.Data.Length ? SrbStatus.DataOverrun : SrbStatus.Success;
    }

    public static void CheckCondition(Srb srb, byte key, byte asc, byte ascq)
    {
        Span<byte> sense = stackalloc byte[18];
        sense.Clear();
        sense[0] = 0x70;
        sense[2] = key;
        sense[7] = 10;
        sense[12] = asc;
        sense[13] = ascq;
        srb.ScsiStatus = ScsiStatus.CheckCondition;
        srb.Status = SrbStatus.Error;
        srb.DataTransferLength = 0;
        srb.SetSenseData(sense);
    }
}
