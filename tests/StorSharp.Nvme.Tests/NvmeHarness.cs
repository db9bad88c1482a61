using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Nvme.Tests;

/// <summary>What a command returned, copied out of its SRB.</summary>
internal sealed record ScsiResult(SrbStatus Status, ScsiStatus ScsiStatus, byte[] Sense, byte[] Data, int DataTransferLength)
{
    public SenseInfo SenseInfo => SenseData.TryParse(Sense, out var info) ? info : throw new InvalidOperationException("no sense data");

    public ScsiResult AssertGood()
    {
        Assert.True(ScsiStatus == ScsiStatus.Good, $"expected GOOD, got {ScsiStatus} {(Sense.Length > 0 ? SenseInfo.Code.ToString() : "")}");
        Assert.True(Status is SrbStatus.Success or SrbStatus.DataOverrun, $"SrbStatus {Status}");
        return this;
    }

    public SenseInfo AssertCheckCondition(SenseCode code)
    {
        Assert.True(ScsiStatus == ScsiStatus.CheckCondition, $"expected CHECK CONDITION {code}, got {ScsiStatus}");
        Assert.Equal(SrbStatus.Error, Status);
        Assert.Equal(code, SenseInfo.Code);
        return SenseInfo;
    }

    public uint U32(int offset) => BinaryPrimitives.ReadUInt32BigEndian(Data.AsSpan(offset));

    public ulong U64(int offset) => BinaryPrimitives.ReadUInt64BigEndian(Data.AsSpan(offset));
}

/// <summary>One data segment of a request: its bytes start at <paramref name="Offset"/> of a fresh array, so at that page offset in host memory.</summary>
internal readonly record struct Segment(int Offset, int Length);

/// <summary>A real port with one NVMe adapter serving namespaces, and helpers to send CDBs through it.</summary>
internal sealed class NvmeHarness : IAsyncDisposable
{
    private NvmeHarness(StoragePort port, Adapter adapter, NvmeMiniport miniport, IBlockDevice[] devices)
    {
        Port = port;
        Adapter = adapter;
        Miniport = miniport;
        Devices = devices;
    }

    public static ScsiAddress Lun0 => new(0, 0, 0);

    public StoragePort Port { get; }

    public Adapter Adapter { get; }

    public NvmeMiniport Miniport { get; }

    public IBlockDevice[] Devices { get; }

    public IBlockDevice Device => Devices[0];

    /// <summary>One namespace at 0:0:0 over <paramref name="device"/> (a 1 MiB RAM disk of 512-byte blocks when null).</summary>
    public static Task<NvmeHarness> CreateAsync(IBlockDevice? device = null, NvmeMiniportOptions? options = null, bool readOnly = false) =>
        CreateAsync([new NvmeNamespaceDefinition(Lun0, device ?? new RamBlockDevice(1 << 20, 512)) { ReadOnly = readOnly, SerialNumber = "NVME0001" }], options);

    public static async Task<NvmeHarness> CreateAsync(NvmeNamespaceDefinition[] namespaces, NvmeMiniportOptions? options = null)
    {
        var miniport = new NvmeMiniport(namespaces, options);
        var port = new StoragePort(new PortOptions());
        var registration = NvmeMiniport.CreateRegistration(namespaces, options) with { CreateMiniport = () => miniport };
        var adapter = await port.AddAdapterAsync(registration);
        return new NvmeHarness(port, adapter, miniport, [.. namespaces.Select(n => n.Device)]);
    }

    /// <summary>Sends a CDB; <paramref name="bufferLength"/> is the data-in room, <paramref name="dataOut"/> the data-out.</summary>
    public Task<ScsiResult> ExecAsync(byte[] cdb, int bufferLength = 0, byte[]? dataOut = null, ScsiAddress? address = null, InitiatorNexus? nexus = null) =>
        ExecAsync(cdb, dataOut is not null ? [new Segment(0, dataOut.Length)] : bufferLength > 0 ? [new Segment(0, bufferLength)] : [], dataOut, address, nexus);

    /// <summary>Sends a CDB whose data buffer is <paramref name="segments"/> (each in its own array, at its offset).</summary>
    public async Task<ScsiResult> ExecAsync(byte[] cdb, IReadOnlyList<Segment> segments, byte[]? dataOut, ScsiAddress? address = null, InitiatorNexus? nexus = null)
    {
        var srb = SrbPool.Shared.Rent();
        srb.SetCdb(cdb);
        srb.Address = address ?? Lun0;
        srb.Nexus = nexus ?? InitiatorNexus.Local;
        int length = segments.Sum(s => s.Length);
        srb.Direction = dataOut is not null ? DataDirection.Out : length > 0 ? DataDirection.In : DataDirection.None;
        int at = 0;
        foreach (var s in segments)
        {
            var array = new byte[s.Offset + s.Length];
            array.AsSpan().Fill(0xEE);
            var memory = new Memory<byte>(array, s.Offset, s.Length);
            if (dataOut is not null) dataOut.AsSpan(at, s.Length).CopyTo(memory.Span);
            srb.Data.Add(memory);
            at += s.Length;
        }
        srb.DataTransferLength = length;
        await Adapter.ExecuteAsync(srb);
        var data = new byte[srb.Data.Length];
        srb.Data.CopyTo(0, data);
        int moved = (int)Math.Min(Math.Max(srb.DataTransferLength, 0), srb.Data.Length);
        var result = new ScsiResult(srb.Status, srb.ScsiStatus, srb.SenseData.ToArray(), srb.Direction == DataDirection.In ? data[..moved] : data, srb.DataTransferLength);
        srb.Release();
        return result;
    }

    /// <summary>Sends an SRB of <paramref name="function"/> (a reset, a flush) with no CDB and returns its status.</summary>
    public async Task<SrbStatus> FunctionAsync(SrbFunction function, ScsiAddress? address = null, InitiatorNexus? nexus = null)
    {
        var srb = SrbPool.Shared.Rent();
        srb.Function = function;
        srb.Address = address ?? Lun0;
        srb.Nexus = nexus ?? InitiatorNexus.Local;
        await Adapter.ExecuteAsync(srb);
        var status = srb.Status;
        srb.Release();
        return status;
    }

    public ValueTask DisposeAsync() => Port.DisposeAsync();
}

/// <summary>CDB builders.</summary>
internal static class Cdb
{
    public static byte[] TestUnitReady() => [0, 0, 0, 0, 0, 0];

    public static byte[] RequestSense(int allocation = 252) => [0x03, 0, 0, 0, (byte)allocation, 0];

    public static byte[] Inquiry(int allocation = 255, bool evpd = false, byte page = 0) => [0x12, (byte)(evpd ? 1 : 0), page, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] ReportLuns(int allocation = 256) => [0xA0, 0, 0, 0, 0, 0, (byte)(allocation >> 24), (byte)(allocation >> 16), (byte)(allocation >> 8), (byte)allocation, 0, 0];

    public static byte[] ReadCapacity10() => [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static byte[] ReadCapacity16(int allocation = 32) => [0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte)allocation, 0, 0];

    public static byte[] Read6(uint lba, byte blocks) => [0x08, (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, blocks, 0];

    public static byte[] Write6(uint lba, byte blocks) => [0x0A, (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, blocks, 0];

    public static byte[] Read10(uint lba, ushort blocks, bool fua = false) => [0x28, (byte)(fua ? 0x08 : 0), (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(blocks >> 8), (byte)blocks, 0];

    public static byte[] Write10(uint lba, ushort blocks, bool fua = false) => [0x2A, (byte)(fua ? 0x08 : 0), (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(blocks >> 8), (byte)blocks, 0];

    public static byte[] Read12(uint lba, uint blocks) => Sized(0xA8, 12, lba, blocks);

    public static byte[] Write12(uint lba, uint blocks) => Sized(0xAA, 12, lba, blocks);

    public static byte[] Read16(ulong lba, uint blocks) => Sized(0x88, 16, lba, blocks);

    public static byte[] Write16(ulong lba, uint blocks) => Sized(0x8A, 16, lba, blocks);

    public static byte[] SynchronizeCache10() => [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static byte[] SynchronizeCache16() => [0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static byte[] ModeSense6(byte page, int pc = 0, bool dbd = false, int allocation = 255) => [0x1A, (byte)(dbd ? 8 : 0), (byte)((pc << 6) | page), 0, (byte)allocation, 0];

    public static byte[] ModeSense10(byte page, int pc = 0, bool dbd = true, int allocation = 255) => [0x5A, (byte)(dbd ? 8 : 0), (byte)((pc << 6) | page), 0, 0, 0, 0, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] Unmap(int parameterLength) => [0x42, 0, 0, 0, 0, 0, 0, (byte)(parameterLength >> 8), (byte)parameterLength, 0];

    public static byte[] UnmapParameters(params (ulong Lba, uint Blocks)[] ranges)
    {
        var p = new byte[8 + 16 * ranges.Length];
        BinaryPrimitives.WriteUInt16BigEndian(p, (ushort)(p.Length - 2));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(16 * ranges.Length));
        for (int i = 0; i < ranges.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(p.AsSpan(8 + 16 * i), ranges[i].Lba);
            BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(16 + 16 * i), ranges[i].Blocks);
        }
        return p;
    }

    public static byte[] WriteSame16(ulong lba, uint blocks, bool unmap = false, bool ndob = false)
    {
        var c = Sized(0x93, 16, lba, blocks);
        c[1] = (byte)((unmap ? 0x08 : 0) | (ndob ? 1 : 0));
        return c;
    }

    public static byte[] Verify(int size, ulong lba, uint blocks, int bytchk = 0, int vrprotect = 0)
    {
        var c = size switch { 10 => new byte[10], 12 => new byte[12], _ => new byte[16] };
        c[0] = size switch { 10 => (byte)0x2F, 12 => (byte)0xAF, _ => (byte)0x8F };
        c[1] = (byte)((vrprotect << 5) | (bytchk << 1));
        if (size == 10)
        {
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), (uint)lba);
            BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), (ushort)blocks);
        }
        else if (size == 12)
        {
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), (uint)lba);
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), blocks);
        }
        else
        {
            BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), blocks);
        }
        return c;
    }

    public static byte[] CompareAndWrite(ulong lba, byte blocks)
    {
        var c = new byte[16];
        c[0] = 0x89;
        BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
        c[13] = blocks;
        return c;
    }

    public static byte[] WriteSame10(uint lba, ushort blocks, bool unmap = false) =>
        [0x41, (byte)(unmap ? 0x08 : 0), (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(blocks >> 8), (byte)blocks, 0];

    private static byte[] Sized(byte opcode, int length, ulong lba, uint blocks)
    {
        var c = new byte[length];
        c[0] = opcode;
        if (length == 12)
        {
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), (uint)lba);
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), blocks);
        }
        else
        {
            BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(10), blocks);
        }
        return c;
    }
}
