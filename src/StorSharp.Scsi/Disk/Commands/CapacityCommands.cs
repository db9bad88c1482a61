using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>READ CAPACITY(10) (SBC-4 §5.20) and READ CAPACITY(16) (SBC-4 §5.21).</summary>
internal static class CapacityCommands
{
    public static ScsiCommand[] Rows =>
    [
        Row(ScsiOpcodes.ReadCapacity10, "READ CAPACITY(10)", DataDirection.In,
            [ScsiOpcodes.ReadCapacity10, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.NeedsMedium, ReadCapacity10),
        Row(ScsiOpcodes.ServiceActionIn16, "READ CAPACITY(16)", DataDirection.In,
            [ScsiOpcodes.ServiceActionIn16, ScsiOpcodes.ReadCapacity16ServiceAction,
             0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00],
            ReservationAccess.Allowed, ScsiCommandFlags.NeedsMedium, ReadCapacity16, ScsiOpcodes.ReadCapacity16ServiceAction),
    ];

    private static void ReadCapacity10(ScsiTask task)
    {
        var cdb = task.Cdb;
        // SBC-4 §5.20.1: with PMI = 0 the LOGICAL BLOCK ADDRESS field must be zero.
        if ((cdb[8] & 0x01) == 0 && BinaryPrimitives.ReadUInt32BigEndian(cdb[2..]) != 0) { task.CompleteInvalidField(2); return; }
        var g = task.Device.Geometry;
        Span<byte> data = stackalloc byte[8];
        long last = g.BlockCount - 1;
        // SBC-4 §5.20.2: a capacity that does not fit reports FFFFFFFFh, telling the host to use READ CAPACITY(16).
        BinaryPrimitives.WriteUInt32BigEndian(data, last >= 0xFFFFFFFFL ? 0xFFFFFFFFu : (uint)Math.Max(last, 0));
        BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)g.LogicalBlockSize);
        task.CompleteDataIn(data, 8);
    }

    private static void ReadCapacity16(ScsiTask task)
    {
        var cdb = task.Cdb;
        if ((cdb[14] & 0x01) == 0 && BinaryPrimitives.ReadUInt64BigEndian(cdb[2..]) != 0) { task.CompleteInvalidField(2); return; }
        uint allocation = BinaryPrimitives.ReadUInt32BigEndian(cdb[10..]);
        var g = task.Device.Geometry;
        var caps = task.Device.Capabilities;
        Span<byte> data = stackalloc byte[32];
        data.Clear();
        BinaryPrimitives.WriteUInt64BigEndian(data, (ulong)Math.Max(g.BlockCount - 1, 0));
        BinaryPrimitives.WriteUInt32BigEndian(data[8..], (uint)g.LogicalBlockSize);
        data[13] = (byte)(g.PhysicalBlockExponent & 0x0F); // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT
        if (task.Unit.ThinProvisioned)
        {
            data[14] |= 0x80; // LBPME
            if ((caps & BlockDeviceCapabilities.UnmapReadsZeroes) != 0) data[14] |= 0x40; // LBPRZ
        }
        task.CompleteDataIn(data, allocation);
    }
}
