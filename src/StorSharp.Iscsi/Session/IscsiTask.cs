using System.Collections.Concurrent;
using StorSharp.Port;

namespace StorSharp.Iscsi.Session;

/// <summary>One outstanding R2T of a write (RFC 7143 §11.8).</summary>
internal struct R2tSlot
{
    public bool Active;
    public uint TargetTransferTag;
    public int Offset;
    public int Length;
    public int Received;
    public uint NextDataSN;
}

/// <summary>Where a task is in its life.</summary>
internal enum TaskPhase
{
    /// <summary>Waiting for its CmdSN turn or for Data-Out.</summary>
    Receiving,
    /// <summary>Handed to the port (or answered by the target itself); waiting for completion.</summary>
    Submitted,
    /// <summary>Finished; about to go back to the pool.</summary>
    Done,
}

/// <summary>
/// A SCSI command in flight on a connection (RFC 7143 §3.2.2 task): its SRB, the data-out
/// bookkeeping (immediate, unsolicited, R2T sequences) and its residual facts. Pooled.
/// </summary>
internal sealed class IscsiTask
{
    private static readonly ConcurrentQueue<IscsiTask> s_pool = new();

    public uint Itt;
    public uint CmdSN;
    public bool Immediate;
    public ulong LunField;
    public LunState? Lun;
    public Srb Srb = null!;
    public DataDirection Direction;
    public int Edtl;
    public long Spdtl;
    public int BufferLength;
    public TaskPhase Phase;
    public bool Delivered;
    public bool HoldsCredit;
    public bool Aborted;
    public TmfOperation? AbortWaiter;
    public int References;

    // A command this target fails itself after draining its data (RFC 7143 §4.2.1, conformance.md).
    public bool Failed;
    public byte FailKey, FailAsc, FailAscq;
    public uint OverflowResidual;

    // Data-Out state (RFC 7143 §4.2.3.4 - §4.2.4).
    public int Received;
    public int UnsolicitedEnd;
    public int UnsolicitedNext;
    public uint UnsolicitedDataSN;
    public bool UnsolicitedOpen;
    public int GapOffset = -1;
    public int GapLength;
    public int NextR2TOffset;
    public uint NextR2TSN;
    public int OutstandingR2T;
    public R2tSlot[] R2Ts = new R2tSlot[8];
    public uint DataInCount;

    public bool DataComplete => Direction != DataDirection.Out || Received >= Edtl;
    public bool SequencesClosed => !UnsolicitedOpen && OutstandingR2T == 0;

    public static IscsiTask Rent()
    {
        if (!s_pool.TryDequeue(out var task)) task = new IscsiTask();
        task.References = 1;
        return task;
    }

    public void Fail(byte key, byte asc, byte ascq)
    {
        if (Failed) return;
        Failed = true;
        FailKey = key;
        FailAsc = asc;
        FailAscq = ascq;
    }

    public void Return()
    {
        Srb = null!;
        Lun = null;
        AbortWaiter = null;
        Itt = CmdSN = 0;
        Immediate = Delivered = HoldsCredit = Aborted = Failed = UnsolicitedOpen = false;
        LunField = 0;
        Direction = DataDirection.None;
        Edtl = BufferLength = Received = UnsolicitedEnd = UnsolicitedNext = NextR2TOffset = OutstandingR2T = GapLength = 0;
        GapOffset = -1;
        Spdtl = -1;
        FailKey = FailAsc = FailAscq = 0;
        OverflowResidual = UnsolicitedDataSN = NextR2TSN = DataInCount = 0;
        Phase = TaskPhase.Receiving;
        Array.Clear(R2Ts);
        if (s_pool.Count < 1024) s_pool.Enqueue(this);
    }
}

/// <summary>A task management request waiting for the tasks it affects and the port's reset or abort SRBs.</summary>
internal sealed class TmfOperation
{
    public uint Itt;
    public bool HoldsCredit;
    public bool CloseAfter;
    public Pdu.TaskManagementResponse Response;
    public int Pending = 1; // the submitter's own reference, dropped once everything is issued
}

/// <summary>A LUN as the target serves it, plus what the transport learned about it (its block size, for residuals).</summary>
internal sealed class LunState(IscsiLun lun)
{
    public IscsiLun Lun { get; } = lun;
    public volatile int BlockSize;
}
