using StorSharp.Block;
using StorSharp.Class;
using StorSharp.Nbd.Protocol;

namespace StorSharp.Nbd.Server;

/// <summary>An export opened for serving: its LU as a <see cref="LunBlockDevice"/> and what the server advertises for it.</summary>
internal sealed class NbdExportState
{
    public NbdExportState(NbdExport export, LunBlockDevice device, int maxPayload)
    {
        Export = export;
        Device = device;
        var g = device.Geometry;
        BlockSize = g.LogicalBlockSize;
        Size = (ulong)g.SizeBytes;
        ReadOnly = export.ReadOnly || device.IsWriteProtected;
        var caps = device.Capabilities;
        MaxPayload = (uint)(maxPayload / BlockSize * BlockSize);
        // Preferred: the LU's optimal transfer if it reports one, else 4 KiB (or one block if larger),
        // capped by the maximum (proto.md: preferred is a power of two, at least the minimum).
        long preferred = g.OptimalTransferBlocks > 0 ? (long)g.OptimalTransferBlocks * BlockSize : Math.Max(4096, BlockSize);
        preferred = Math.Min(preferred, MaxPayload);
        PreferredBlockSize = (uint)Math.Max(BlockSize, 1L << (int)(63 - long.LeadingZeroCount(preferred)));

        var flags = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua | NbdTransmissionFlags.SendCache;
        if (ReadOnly) flags |= NbdTransmissionFlags.ReadOnly;
        else
        {
            flags |= NbdTransmissionFlags.SendWriteZeroes | NbdTransmissionFlags.SendFastZero;
            if ((caps & BlockDeviceCapabilities.Unmap) != 0) flags |= NbdTransmissionFlags.SendTrim;
        }
        if ((caps & BlockDeviceCapabilities.MultiConnection) != 0) flags |= NbdTransmissionFlags.CanMultiConn;
        if ((caps & BlockDeviceCapabilities.NonRotational) == 0) flags |= NbdTransmissionFlags.Rotational;
        BaseFlags = flags;
    }

    public NbdExport Export { get; }
    public string Name => Export.Name;
    public LunBlockDevice Device { get; }
    public int BlockSize { get; }
    public ulong Size { get; }
    public bool ReadOnly { get; }
    public uint MaxPayload { get; }
    public uint PreferredBlockSize { get; }
    public NbdTransmissionFlags BaseFlags { get; }

    /// <summary>The flags for a client; DF only with structured replies (proto.md: NBD_FLAG_SEND_DF).</summary>
    public NbdTransmissionFlags FlagsFor(bool structuredReplies) =>
        structuredReplies ? BaseFlags | NbdTransmissionFlags.SendDf : BaseFlags;
}
