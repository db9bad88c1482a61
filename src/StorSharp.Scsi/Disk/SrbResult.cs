using StorSharp.Port;

namespace StorSharp.Scsi;

/// <summary>
/// Writes a command's outcome into its SRB: status, sense and the residual rule.
/// </summary>
/// <remarks>
/// <para>The residual rule (see docs/scsi-disk.md): <see cref="Srb.DataTransferLength"/> is set to
/// the number of bytes the command transfers by its CDB (for data-in commands: what the device
/// server has, capped by the allocation length). When that equals the buffer the SRB gave
/// (<c>min(DataTransferLength at submission, Data.Length)</c>, the iSCSI expected data transfer
/// length) the status is SUCCESS. Otherwise it is DATA_OVERRUN, as Storport reports both under-
/// and overruns, and <c>buffer - DataTransferLength</c> is the residual: positive for an underflow,
/// negative for an overflow (the bytes that did not fit). At most the buffer's length is ever
/// moved, so a front end sends <c>min(buffer, DataTransferLength)</c> bytes of data-in.</para>
/// </remarks>
public static class SrbResult
{
    /// <summary>GOOD: sets the transfer length and SUCCESS or DATA_OVERRUN by the residual rule.</summary>
    /// <param name="srb">The request.</param>
    /// <param name="bufferLength">The room the submitter gave for data.</param>
    /// <param name="commandBytes">The bytes the command transfers by its CDB.</param>
    public static void SetTransfer(Srb srb, int bufferLength, long commandBytes)
    {
        srb.ScsiStatus = ScsiStatus.Good;
        srb.DataTransferLength = (int)Math.Min(commandBytes, int.MaxValue);
        srb.Status = commandBytes == bufferLength ? SrbStatus.Success : SrbStatus.DataOverrun;
    }

    /// <summary>GOOD with data-in: copies <c>min(data, allocation length, buffer)</c> bytes and applies the residual rule.</summary>
    public static void SetDataIn(Srb srb, int bufferLength, ReadOnlySpan<byte> data, long allocationLength)
    {
        int n = (int)Math.Min(data.Length, Math.Max(allocationLength, 0));
        srb.Data.CopyFrom(0, data[..Math.Min(n, bufferLength)]);
        SetTransfer(srb, bufferLength, n);
    }

    /// <summary>CHECK CONDITION with autosense; no data counts as transferred.</summary>
    /// <returns>False when the SRB has no room for sense data (the caller keeps it for REQUEST SENSE).</returns>
    public static bool SetCheckCondition(Srb srb, ReadOnlySpan<byte> sense)
    {
        srb.ScsiStatus = ScsiStatus.CheckCondition;
        srb.Status = SrbStatus.Error;
        srb.DataTransferLength = 0;
        if (srb.SenseInfoBufferLength == 0) return false;
        srb.SetSenseData(sense);
        return true;
    }

    /// <summary>The residual of a completed SRB: positive = underflow (room left), negative = overflow (bytes that did not fit).</summary>
    /// <param name="srb">The completed request.</param>
    /// <param name="bufferLength">The room the submitter gave for data (iSCSI: the expected data transfer length).</param>
    public static long Residual(Srb srb, long bufferLength) => bufferLength - srb.DataTransferLength;
}
