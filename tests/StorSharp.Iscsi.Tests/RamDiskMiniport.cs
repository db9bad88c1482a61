using System.Buffers.Binary;
using System.Collections.Concurrent;
using StorSharp.Port;

namespace StorSharp.Iscsi.Tests;

/// <summary>
/// A small SCSI disk for transport tests: INQUIRY, REPORT LUNS, TEST UNIT READY, READ CAPACITY,
/// READ/WRITE(10/16), MODE SENSE(6), SYNCHRONIZE CACHE over RAM. Requests whose LBA equals
/// <see cref="HoldLba"/> are held until <see cref="ReleaseHeld"/> (for task management tests).
/// </summary>
internal sealed class RamDiskMiniport : IVirtualMiniport
{
    public const int BlockSize = 512;
    private readonly int _luns;
    private readonly long _blocks;
    private readonly byte[][] _disks;
    private IPortServices _port = null!;
    private readonly ConcurrentDictionary<Srb, byte> _held = new();

    public RamDiskMiniport(int luns = 2, long blocks = 8192)
    {
        _luns = luns;
        _blocks = blocks;
        _disks = new byte[luns][];
        for (int i = 0; i < luns; i++) _disks[i] = new byte[blocks * BlockSize];
    }

    public long HoldLba { get; set; } = -1;
    public int HeldCount => _held.Count;

    /// <summary>The IoControl requests received: address, initiator port of the SRB's nexus, SRB_IO_CONTROL bytes.</summary>
    public ConcurrentQueue<(ScsiAddress Address, string InitiatorPort, byte[] Header)> Controls { get; } = new();
    public byte[] Disk(int lun) => _disks[lun];

    public static VirtualMiniportRegistration Registration(RamDiskMiniport miniport) => new() { Name = "TestRamDisk", CreateMiniport = () => miniport };

    public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments)
    {
        _port = port;
        configuration.MaximumNumberOfLogicalUnits = _luns;
        configuration.MaximumTransferLength = 64 * 1024 * 1024;
        configuration.NumberOfPhysicalBreaks = 4096;
        return FindAdapterResult.Found;
    }

    public bool Initialize() => true;

    public bool ResetBus(byte pathId)
    {
        ReleaseHeld(SrbStatus.BusReset);
        return true;
    }

    public ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported)
    {
        if (type == AdapterControlType.QuerySupportedControlTypes) { supported.Add(AdapterControlType.StopAdapter); }
        return ControlStatus.Success;
    }

    public void FreeAdapterResources() { }

    public void ReleaseHeld(SrbStatus status = SrbStatus.Success)
    {
        foreach (var srb in _held.Keys)
        {
            if (!_held.TryRemove(srb, out _)) continue;
            if (status == SrbStatus.Success) Execute(srb); else { srb.Status = status; srb.DataTransferLength = 0; }
            _port.CompleteRequest(srb);
        }
    }

    public bool StartIo(Srb srb)
    {
        switch (srb.Function)
        {
            case SrbFunction.AbortCommand:
                if (srb.AbortTarget is { } target && _held.TryRemove(target, out _))
                {
                    target.Status = SrbStatus.Aborted;
                    target.DataTransferLength = 0;
                    _port.CompleteRequest(target);
                }
                srb.Status = SrbStatus.Success;
                _port.CompleteRequest(srb);
                return true;
            case SrbFunction.ResetLogicalUnit:
            case SrbFunction.ResetDevice:
                foreach (var h in _held.Keys)
                    if (_held.TryRemove(h, out _)) { h.Status = SrbStatus.BusReset; h.DataTransferLength = 0; _port.CompleteRequest(h); }
                srb.Status = SrbStatus.Success;
                _port.CompleteRequest(srb);
                return true;
            case SrbFunction.ExecuteScsi:
                break;
            case SrbFunction.IoControl:
                var header = new byte[srb.Data.Length];
                srb.Data.CopyTo(0, header);
                Controls.Enqueue((srb.Address, srb.Nexus.InitiatorPortName, header));
                srb.Status = SrbStatus.Success;
                _port.CompleteRequest(srb);
                return true;
            default:
                srb.Status = SrbStatus.Success;
                _port.CompleteRequest(srb);
                return true;
        }
        if (HoldLba >= 0 && srb.OperationCode is 0x28 or 0x2A && BinaryPrimitives.ReadUInt32BigEndian(srb.Cdb[2..]) == HoldLba)
        {
            _held[srb] = 0;
            return true;
        }
        Execute(srb);
        _port.CompleteRequest(srb);
        return true;
    }

    private void Execute(Srb srb)
    {
        var cdb = srb.Cdb;
        int lun = srb.Address.Lun;
        srb.ScsiStatus = ScsiStatus.Good;
        srb.Status = SrbStatus.Success;
        Span<byte> buf = stackalloc byte[96];
        buf.Clear();
        switch (cdb[0])
        {
            case 0x00: // TEST UNIT READY
            case 0x35: // SYNCHRONIZE CACHE
                srb.DataTransferLength = 0;
                return;
            case 0x12: // INQUIRY
            {
                if ((cdb[1] & 1) != 0)
                {
                    if (cdb[2] != 0x00) { Fail(srb, 0x05, 0x24, 0x00); return; }
                    buf[3] = 1; // supported VPD pages: 00h only
                    Reply(srb, buf[..5], (cdb[3] << 8) | cdb[4]);
                    return;
                }
                buf[0] = 0x00; buf[2] = 0x06; buf[3] = 0x02; buf[4] = 91; buf[7] = 0x02;
                "STORSHAR"u8.CopyTo(buf[8..]);
                "TEST RAM DISK   "u8.CopyTo(buf[16..]);
                "0001"u8.CopyTo(buf[32..]);
                Reply(srb, buf[..96], (cdb[3] << 8) | cdb[4]);
                return;
            }
            case 0xA0: // REPORT LUNS
            {
                var data = new byte[8 + 8 * _luns];
                BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(8 * _luns));
                for (int i = 0; i < _luns; i++) data[8 + 8 * i + 1] = (byte)i;
                Reply(srb, data, (int)BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]));
                return;
            }
            case 0x25: // READ CAPACITY(10)
                BinaryPrimitives.WriteUInt32BigEndian(buf, (uint)(_blocks - 1));
                BinaryPrimitives.WriteUInt32BigEndian(buf[4..], BlockSize);
                Reply(srb, buf[..8], 8);
                return;
            case 0x9E when (cdb[1] & 0x1F) == 0x10: // READ CAPACITY(16)
                BinaryPrimitives.WriteUInt64BigEndian(buf, (ulong)(_blocks - 1));
                BinaryPrimitives.WriteUInt32BigEndian(buf[8..], BlockSize);
                Reply(srb, buf[..32], (int)BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]));
                return;
            case 0x1A: // MODE SENSE(6)
                buf[0] = 3;
                Reply(srb, buf[..4], cdb[4]);
                return;
            case 0x28: case 0x2A: case 0x88: case 0x8A: case 0xA8: case 0xAA: case 0x2E: case 0xAE: case 0x8E:
            {
                int group = cdb[0] >> 5;
                long lba = group == 4 ? (long)BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]) : BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]);
                long count = group switch
                {
                    4 => BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]),
                    5 => BinaryPrimitives.ReadUInt32BigEndian(cdb[6..]),
                    _ => BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]),
                };
                if (lba + count > _blocks) { Fail(srb, 0x05, 0x21, 0x00); return; }
                long bytes = count * BlockSize;
                if (bytes > srb.Data.Length) { Fail(srb, 0x05, 0x24, 0x00); return; }
                var disk = _disks[lun].AsSpan((int)(lba * BlockSize), (int)bytes);
                if (cdb[0] is 0x28 or 0x88 or 0xA8) srb.Data.CopyFrom(0, disk);
                else srb.Data.CopyTo(0, disk);
                srb.DataTransferLength = (int)bytes;
                return;
            }
            default:
                Fail(srb, 0x05, 0x20, 0x00);
                return;
        }
    }

    private static void Reply(Srb srb, ReadOnlySpan<byte> data, int allocation)
    {
        int n = (int)Math.Min(Math.Min(data.Length, allocation), srb.Data.Length);
        srb.Data.CopyFrom(0, data[..n]);
        srb.DataTransferLength = n;
    }

    private static void Fail(Srb srb, byte key, byte asc, byte ascq)
    {
        Span<byte> sense = stackalloc byte[18];
        sense.Clear();
        sense[0] = 0x70; sense[2] = key; sense[7] = 10; sense[12] = asc; sense[13] = ascq;
        srb.Status = SrbStatus.Error;
        srb.ScsiStatus = ScsiStatus.CheckCondition;
        srb.SetSenseData(sense);
        srb.DataTransferLength = 0;
    }
}
