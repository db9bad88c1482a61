using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

/// <summary>What a command returned, copied out of its SRB.</summary>
internal sealed record ScsiResult(SrbStatus Status, ScsiStatus ScsiStatus, byte[] Sense, byte[] Data, int DataTransferLength, bool CompletedByPort)
{
    public SenseInfo SenseInfo => SenseData.TryParse(Sense, out var info) ? info : throw new InvalidOperationException("no sense data");

    public void AssertGood()
    {
        Assert.True(ScsiStatus == ScsiStatus.Good, $"expected GOOD, got {ScsiStatus} {(Sense.Length > 0 ? SenseInfo.Code.ToString() : "")}");
        Assert.True(Status is SrbStatus.Success or SrbStatus.DataOverrun, $"SrbStatus {Status}");
    }

    public void AssertCheckCondition(SenseCode code)
    {
        Assert.Equal(ScsiStatus.CheckCondition, ScsiStatus);
        Assert.Equal(SrbStatus.Error, Status);
        Assert.Equal(code, SenseInfo.Code);
    }
}

/// <summary>A real port with one ScsiDisk adapter, and helpers to send CDBs through it.</summary>
internal sealed class DiskHarness : IAsyncDisposable
{
    private DiskHarness(StoragePort port, Adapter adapter)
    {
        Port = port;
        Adapter = adapter;
    }

    public StoragePort Port { get; }

    public Adapter Adapter { get; }

    public ScsiDiskMiniport Miniport => (ScsiDiskMiniport)Adapter.Miniport;

    public static async Task<DiskHarness> CreateAsync(ScsiDiskMiniportOptions? options, params ScsiDiskDefinition[] disks)
    {
        var port = new StoragePort(new PortOptions());
        var adapter = await port.AddAdapterAsync(ScsiDiskMiniport.CreateRegistration(disks, options));
        return new DiskHarness(port, adapter);
    }

    public static Task<DiskHarness> CreateAsync(params ScsiDiskDefinition[] disks) => CreateAsync(null, disks);

    public static async Task<(DiskHarness Harness, TestBlockDevice Device)> SingleAsync(TestBlockDevice? device = null, Func<ScsiDiskDefinition, ScsiDiskDefinition>? configure = null)
    {
        device ??= new TestBlockDevice();
        var def = new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), device) { ProductId = "Test Disk", SerialNumber = "SN0001" };
        if (configure is not null) def = configure(def);
        return (await CreateAsync(def), device);
    }

    public static ScsiAddress Lun0 => new(0, 0, 0);

    /// <summary>Sends a CDB. <paramref name="bufferLength"/> is the data-in room; <paramref name="dataOut"/> the data-out; <paramref name="segments"/> splits the buffer.</summary>
    public async Task<ScsiResult> ExecAsync(byte[] cdb, int bufferLength = 0, byte[]? dataOut = null, ScsiAddress? address = null,
        InitiatorNexus? nexus = null, int[]? segments = null, int senseLength = Srb.MaxSenseLength)
    {
        var srb = Prepare(cdb, bufferLength, dataOut, address, nexus, segments, senseLength);
        await Adapter.ExecuteAsync(srb);
        return Collect(srb);
    }

    public static Srb Prepare(byte[] cdb, int bufferLength = 0, byte[]? dataOut = null, ScsiAddress? address = null,
        InitiatorNexus? nexus = null, int[]? segments = null, int senseLength = Srb.MaxSenseLength)
    {
        var srb = SrbPool.Shared.Rent();
        srb.SetCdb(cdb);
        srb.Address = address ?? Lun0;
        if (nexus is not null) srb.Nexus = nexus;
        srb.SenseInfoBufferLength = senseLength;
        int length = dataOut?.Length ?? bufferLength;
        srb.Direction = dataOut is not null ? DataDirection.Out : length > 0 ? DataDirection.In : DataDirection.None;
        if (length > 0)
        {
            int offset = 0;
            foreach (var part in segments ?? [length])
            {
                var seg = srb.Data.Rent(part);
                if (dataOut is not null) dataOut.AsSpan(offset, part).CopyTo(seg.Span);
                else seg.Span.Fill(0xEE);
                offset += part;
            }
            Assert.Equal(length, offset);
        }
        srb.DataTransferLength = length;
        return srb;
    }

    public static ScsiResult Collect(Srb srb)
    {
        var data = new byte[srb.Data.Length];
        srb.Data.CopyTo(0, data);
        int moved = (int)Math.Min(Math.Max(srb.DataTransferLength, 0), srb.Data.Length);
        var result = new ScsiResult(srb.Status, srb.ScsiStatus, srb.SenseData.ToArray(), srb.Direction == DataDirection.In ? data[..moved] : data,
            srb.DataTransferLength, srb.IsCompletedByPort);
        srb.Release();
        return result;
    }

    public IReadOnlyList<Port.StorageEvent> ContractViolations => Port.Events.WithId(StorageEventIds.ContractViolation);

    public ValueTask DisposeAsync() => Port.DisposeAsync();
}

/// <summary>CDB builders.</summary>
internal static class Cdbs
{
    public static byte[] Inquiry(int allocation = 255, bool evpd = false, byte page = 0) =>
        [0x12, (byte)(evpd ? 1 : 0), page, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] TestUnitReady() => [0, 0, 0, 0, 0, 0];

    public static byte[] RequestSense(int allocation = 252, bool descriptor = false) => [0x03, (byte)(descriptor ? 1 : 0), 0, 0, (byte)allocation, 0];

    public static byte[] ReadCapacity10() => [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static byte[] ReadCapacity16(int allocation = 32) => [0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, (byte)(allocation >> 24), (byte)(allocation >> 16), (byte)(allocation >> 8), (byte)allocation, 0, 0];

    public static byte[] ReportLuns(int allocation = 4096, byte select = 0) => [0xA0, 0, select, 0, 0, 0, (byte)(allocation >> 24), (byte)(allocation >> 16), (byte)(allocation >> 8), (byte)allocation, 0, 0];

    public static byte[] Rw10(byte opcode, uint lba, ushort blocks, byte flags = 0) =>
        [opcode, flags, (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(blocks >> 8), (byte)blocks, 0];

    public static byte[] Read10(uint lba, ushort blocks, byte flags = 0) => Rw10(0x28, lba, blocks, flags);

    public static byte[] Write10(uint lba, ushort blocks, byte flags = 0) => Rw10(0x2A, lba, blocks, flags);

    public static byte[] Rw16(byte opcode, ulong lba, uint blocks, byte flags = 0)
    {
        var cdb = new byte[16];
        cdb[0] = opcode;
        cdb[1] = flags;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(cdb.AsSpan(2), lba);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(10), blocks);
        return cdb;
    }

    public static byte[] Read16(ulong lba, uint blocks, byte flags = 0) => Rw16(0x88, lba, blocks, flags);

    public static byte[] Write16(ulong lba, uint blocks, byte flags = 0) => Rw16(0x8A, lba, blocks, flags);

    public static byte[] Pattern(int length, byte seed)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++) data[i] = (byte)(seed + i * 7 + (i >> 9));
        return data;
    }
}
