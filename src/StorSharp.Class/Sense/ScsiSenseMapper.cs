using StorSharp.Block;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Class;

/// <summary>What the class layer does with a finished SRB.</summary>
public enum ScsiOutcome
{
    /// <summary>The command succeeded (GOOD, CONDITION MET, or a RECOVERED ERROR).</summary>
    Success,
    /// <summary>A transient failure: retry (UNIT ATTENTION, ABORTED COMMAND, BUSY, a reset or a timeout).</summary>
    Retry,
    /// <summary>A final failure; the <see cref="BlockError"/> says which.</summary>
    Failure,
}

/// <summary>
/// Turns the result of an SRB (SRB status, SCSI status and sense data) into what the block
/// layer and the front ends speak: <see cref="BlockError"/> and POSIX <see cref="Errno"/> values
/// (NBD's error field). What disk.sys's <c>ClassInterpretSenseInfo</c> does.
/// </summary>
public static class ScsiSenseMapper
{
    /// <summary>Classifies a finished SRB.</summary>
    /// <param name="srb">The completed request.</param>
    /// <param name="error">For <see cref="ScsiOutcome.Failure"/> (and as the error to report when retries run out): why.</param>
    public static ScsiOutcome Classify(Srb srb, out BlockError error)
    {
        ArgumentNullException.ThrowIfNull(srb);
        return Classify(srb.Status, srb.ScsiStatus, (srb.StatusFlags & SrbStatusFlags.AutosenseValid) != 0 ? srb.SenseData : default, out error);
    }

    /// <summary>Classifies a result given as its parts.</summary>
    /// <param name="status">The SRB status.</param>
    /// <param name="scsiStatus">The SCSI status byte.</param>
    /// <param name="sense">The valid sense bytes; empty when none.</param>
    /// <param name="error">For a failure: why; for a retry: the error to report if retries run out.</param>
    public static ScsiOutcome Classify(SrbStatus status, ScsiStatus scsiStatus, ReadOnlySpan<byte> sense, out BlockError error)
    {
        error = BlockError.MediumError;
        switch (status)
        {
            case SrbStatus.Success:
                return ScsiOutcome.Success;
            case SrbStatus.Error:
                break; // look at the SCSI status below
            // disk.sys retries what a reset, a timeout or an abort ended (event 153).
            case SrbStatus.Timeout or SrbStatus.CommandTimeout or SrbStatus.BusReset or SrbStatus.Aborted
                or SrbStatus.RequestFlushed or SrbStatus.SelectionTimeout or SrbStatus.ParityError or SrbStatus.Busy:
                return ScsiOutcome.Retry;
            case SrbStatus.InsufficientResources:
                error = BlockError.NoSpace;
                return ScsiOutcome.Retry;
            case SrbStatus.DataOverrun:
                error = BlockError.MediumError; // fewer bytes moved than asked: the data is incomplete
                return ScsiOutcome.Failure;
            case SrbStatus.InvalidRequest:
                error = BlockError.InvalidArgument; // for example a transfer beyond MaximumTransferLength
                return ScsiOutcome.Failure;
            case SrbStatus.BadFunction:
                error = BlockError.NotSupported;
                return ScsiOutcome.Failure;
            case SrbStatus.NoDevice or SrbStatus.InvalidLun or SrbStatus.InvalidTargetId or SrbStatus.InvalidPathId
                or SrbStatus.NoHba or SrbStatus.LinkDown or SrbStatus.NotPowered:
                error = BlockError.NotReady;
                return ScsiOutcome.Failure;
            default:
                error = BlockError.MediumError;
                return ScsiOutcome.Failure;
        }

        switch (scsiStatus)
        {
            case ScsiStatus.Good or ScsiStatus.ConditionMet:
                return ScsiOutcome.Success;
            case ScsiStatus.Busy or ScsiStatus.TaskSetFull or ScsiStatus.TaskAborted:
                return ScsiOutcome.Retry;
            case ScsiStatus.ReservationConflict:
                error = BlockError.ReadOnly; // another initiator holds the LU: not permitted (EPERM)
                return ScsiOutcome.Failure;
            case ScsiStatus.CheckCondition:
                if (!SenseData.TryParse(sense, out var info)) return ScsiOutcome.Failure; // no usable sense: EIO
                return Classify(info, out error);
            default:
                return ScsiOutcome.Failure;
        }
    }

    /// <summary>Classifies CHECK CONDITION sense data.</summary>
    public static ScsiOutcome Classify(in SenseInfo sense, out BlockError error)
    {
        error = ToBlockError(sense);
        return sense.Code.Key switch
        {
            SenseKey.NoSense or SenseKey.RecoveredError or SenseKey.Completed => ScsiOutcome.Success,
            SenseKey.UnitAttention or SenseKey.AbortedCommand => ScsiOutcome.Retry,
            // 04/01: LOGICAL UNIT IS IN PROCESS OF BECOMING READY.
            SenseKey.NotReady when sense.Code.Asc == 0x04 && sense.Code.Ascq == 0x01 => ScsiOutcome.Retry,
            _ => ScsiOutcome.Failure,
        };
    }

    /// <summary>The block error sense data stands for (SPC-5 annex F for the ASC/ASCQ names).</summary>
    public static BlockError ToBlockError(in SenseInfo sense) => sense.Code.Key switch
    {
        SenseKey.IllegalRequest => (sense.Code.Asc, sense.Code.Ascq) switch
        {
            (0x21, 0x00) => BlockError.OutOfRange,      // LOGICAL BLOCK ADDRESS OUT OF RANGE
            (0x20, 0x00) => BlockError.NotSupported,    // INVALID COMMAND OPERATION CODE
            (0x25, 0x00) => BlockError.NotReady,        // LOGICAL UNIT NOT SUPPORTED
            _ => BlockError.InvalidArgument,            // 24/00 INVALID FIELD IN CDB, 26/xx parameter list, ...
        },
        SenseKey.DataProtect => (sense.Code.Asc, sense.Code.Ascq) switch
        {
            (0x27, 0x07) => BlockError.NoSpace,         // SPACE ALLOCATION FAILED WRITE PROTECT (thin pool exhausted)
            _ => BlockError.ReadOnly,                   // 27/00 WRITE PROTECTED and friends
        },
        SenseKey.NotReady => BlockError.NotReady,
        SenseKey.VolumeOverflow => BlockError.NoSpace,
        _ => BlockError.MediumError,                    // MEDIUM / HARDWARE ERROR, MISCOMPARE, ...
    };

    /// <summary>
    /// The errno a block error is reported with. <paramref name="isWrite"/> picks ENOSPC for a range
    /// past the end of a write and EINVAL for one of a read (NBD proto.md: "The server SHOULD return
    /// NBD_ENOSPC if it receives a write request including one or more sectors beyond the size of
    /// the device"; reads get EINVAL).
    /// </summary>
    /// <remarks>NOT READY maps to EIO, not ESHUTDOWN: ESHUTDOWN tells an NBD client the server itself is going away.</remarks>
    public static Errno ToErrno(BlockError error, bool isWrite = false) => error switch
    {
        BlockError.OutOfRange => isWrite ? Errno.ENOSPC : Errno.EINVAL,
        BlockError.InvalidArgument => Errno.EINVAL,
        BlockError.ReadOnly => Errno.EPERM,
        BlockError.NotSupported => Errno.ENOTSUP,
        BlockError.NoSpace => Errno.ENOSPC,
        _ => Errno.EIO,
    };

    /// <summary>The errno for raw sense bytes (EIO when they cannot be parsed).</summary>
    public static Errno ToErrno(ReadOnlySpan<byte> sense, bool isWrite = false) =>
        SenseData.TryParse(sense, out var info) ? ToErrno(ToBlockError(info), isWrite) : Errno.EIO;
}
