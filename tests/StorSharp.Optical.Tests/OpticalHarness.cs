using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Optical.Tests;

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

    /// <summary>INVALID FIELD IN CDB with the field pointer on <paramref name="byteIndex"/> (and <paramref name="bit"/> when given).</summary>
    public void AssertInvalidField(int byteIndex, int bit = -1)
    {
        var info = AssertCheckCondition(SenseCodes.InvalidFieldInCdb);
        Assert.True(info.Specific.IsValid, "SKSV");
        Assert.True(info.Specific.IsInCdb, "C/D");
        Assert.Equal(byteIndex, info.Specific.Field);
        if (bit >= 0) Assert.Equal(bit, info.Specific.BitPointer);
    }

    public int U16(int offset) => BinaryPrimitives.ReadUInt16BigEndian(Data.AsSpan(offset));

    public uint U32(int offset) => BinaryPrimitives.ReadUInt32BigEndian(Data.AsSpan(offset));
}

/// <summary>A real port with one optical adapter serving one drive at 0:0:0, and helpers to send CDBs through it.</summary>
internal sealed class OpticalHarness : IAsyncDisposable
{
    private OpticalHarness(StoragePort port, Adapter adapter, OpticalDrive drive)
    {
        Port = port;
        Adapter = adapter;
        Drive = drive;
    }

    public static ScsiAddress Lun0 => new(0, 0, 0);

    public StoragePort Port { get; }

    public Adapter Adapter { get; }

    public OpticalDrive Drive { get; }

    /// <summary>A drive loaded with an image of <paramref name="sectors"/> sectors of <see cref="Pattern"/> (null: empty drive).</summary>
    public static async Task<OpticalHarness> CreateAsync(long? sectors = 64, MmcProfile profile = MmcProfile.None, ScsiDiskMiniportOptions? options = null)
    {
        var drive = new OpticalDrive(sectors is { } s ? new OpticalDisc(await ImageAsync(s), profile) : null);
        var port = new StoragePort(new PortOptions());
        var adapter = await port.AddAdapterAsync(OpticalMiniport.CreateRegistration([new OpticalDriveDefinition(Lun0, drive) { SerialNumber = "DVD0001" }], options));
        return new OpticalHarness(port, adapter, drive);
    }

    /// <summary>An image with 512-byte blocks (as a file device presents an ISO) holding <see cref="Pattern"/>.</summary>
    public static async Task<IBlockDevice> ImageAsync(long sectors, byte seed = 1)
    {
        var ram = new RamBlockDevice(sectors * 2048, 512);
        await ram.WriteAsync(0, Pattern((int)(sectors * 2048), seed));
        return ram;
    }

    public static byte[] Pattern(int length, byte seed)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++) data[i] = (byte)(seed + i * 7 + (i >> 11));
        return data;
    }

    /// <summary>Sends a CDB; <paramref name="bufferLength"/> is the data-in room, <paramref name="dataOut"/> the data-out.</summary>
    public async Task<ScsiResult> ExecAsync(byte[] cdb, int bufferLength = 0, byte[]? dataOut = null, InitiatorNexus? nexus = null)
    {
        var srb = SrbPool.Shared.Rent();
        srb.SetCdb(cdb);
        srb.Address = Lun0;
        if (nexus is not null) srb.Nexus = nexus;
        srb.SenseInfoBufferLength = Srb.MaxSenseLength;
        int length = dataOut?.Length ?? bufferLength;
        srb.Direction = dataOut is not null ? DataDirection.Out : length > 0 ? DataDirection.In : DataDirection.None;
        if (length > 0)
        {
            var seg = srb.Data.Rent(length);
            if (dataOut is not null) dataOut.CopyTo(seg.Span); else seg.Span.Fill(0xEE);
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

    /// <summary>A new I_T nexus whose POWER ON unit attention has already been taken.</summary>
    public async Task<InitiatorNexus> NexusAsync(string name)
    {
        var n = new InitiatorNexus(name, "iqn.target");
        (await ExecAsync(Mmc.TestUnitReady(), nexus: n)).AssertCheckCondition(SenseCodes.PowerOnReset);
        return n;
    }

    public ValueTask DisposeAsync() => Port.DisposeAsync();
}

/// <summary>CDB builders.</summary>
internal static class Mmc
{
    public static byte[] TestUnitReady() => [0, 0, 0, 0, 0, 0];

    public static byte[] RequestSense(int allocation = 252) => [0x03, 0, 0, 0, (byte)allocation, 0];

    public static byte[] Inquiry(int allocation = 255, bool evpd = false, byte page = 0) => [0x12, (byte)(evpd ? 1 : 0), page, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] ReportLuns(int allocation = 256) => [0xA0, 0, 0, 0, 0, 0, (byte)(allocation >> 24), (byte)(allocation >> 16), (byte)(allocation >> 8), (byte)allocation, 0, 0];

    public static byte[] ReadCapacity() => [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static byte[] Read10(uint lba, ushort blocks) => [0x28, 0, (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(blocks >> 8), (byte)blocks, 0];

    public static byte[] Write10(uint lba, ushort blocks) => [0x2A, 0, (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(blocks >> 8), (byte)blocks, 0];

    public static byte[] Read12(uint lba, uint blocks)
    {
        var c = new byte[12];
        c[0] = 0xA8;
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), blocks);
        return c;
    }

    public static byte[] ReadToc(int format, bool msf = false, byte track = 0, int allocation = 1024, byte control = 0) =>
        [0x43, (byte)(msf ? 2 : 0), (byte)format, 0, 0, 0, track, (byte)(allocation >> 8), (byte)allocation, control];

    public static byte[] GetConfiguration(int rt, ushort start = 0, int allocation = 1024) =>
        [0x46, (byte)rt, (byte)(start >> 8), (byte)start, 0, 0, 0, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] Gesn(byte classes, int allocation = 8, bool polled = true) =>
        [0x4A, (byte)(polled ? 1 : 0), 0, 0, classes, 0, 0, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] ReadDiscInformation(int allocation = 34, byte dataType = 0) => [0x51, dataType, 0, 0, 0, 0, 0, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] ReadTrackInformation(int type, uint value, int allocation = 48) =>
        [0x52, (byte)type, (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value, 0, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] ModeSense10(byte page, int pc = 0, int allocation = 256) => [0x5A, 0, (byte)((pc << 6) | page), 0, 0, 0, 0, (byte)(allocation >> 8), (byte)allocation, 0];

    public static byte[] ModeSelect10(int length, bool sp = false) => [0x55, (byte)(0x10 | (sp ? 1 : 0)), 0, 0, 0, 0, 0, (byte)(length >> 8), (byte)length, 0];

    public static byte[] StartStop(bool loej, bool start, int powerCondition = 0) => [0x1B, 0, 0, 0, (byte)((powerCondition << 4) | (loej ? 2 : 0) | (start ? 1 : 0)), 0];

    public static byte[] PreventAllow(bool prevent) => [0x1E, 0, 0, 0, (byte)(prevent ? 1 : 0), 0];

    public static byte[] MechanismStatus(int allocation = 8) => [0xBD, 0, 0, 0, 0, 0, 0, 0, (byte)(allocation >> 8), (byte)allocation, 0, 0];

    public static byte[] GetPerformance(byte type, int maxDescriptors = 4, byte dataType = 0) =>
        [0xAC, dataType, 0, 0, 0, 0, 0, 0, (byte)(maxDescriptors >> 8), (byte)maxDescriptors, type, 0];

    public static byte[] SetCdSpeed(ushort read = 0xFFFF) => [0xBB, 0, (byte)(read >> 8), (byte)read, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0];

    public static byte[] ReadCd(uint lba, int blocks, byte selection = 0x10, byte sectorType = 0)
    {
        var c = new byte[12];
        c[0] = 0xBE;
        c[1] = (byte)(sectorType << 2);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), lba);
        c[6] = (byte)(blocks >> 16); c[7] = (byte)(blocks >> 8); c[8] = (byte)blocks;
        c[9] = selection;
        return c;
    }
}
