using StorSharp.Block;
using StorSharp.Class;
using StorSharp.Port;
using StorSharp.Scsi;

namespace StorSharp.Class.Tests;

/// <summary>Sense data in both formats, and the mapping to block errors and errno values.</summary>
public class ScsiSenseMapperTests
{
    private static byte[] Fixed(byte key, byte asc, byte ascq, byte code = 0x70)
    {
        var s = new byte[18];
        s[0] = code; s[2] = key; s[7] = 10; s[12] = asc; s[13] = ascq;
        return s;
    }

    private static byte[] Descriptor(byte key, byte asc, byte ascq, byte code = 0x72) => [code, key, asc, ascq, 0, 0, 0, 0];

    [Fact]
    public void Reads_both_formats_and_truncated_sense_with_the_scsi_layers_parser()
    {
        Assert.True(SenseData.TryParse(Fixed(0x5, 0x21, 0x00), out var f));
        Assert.Equal(new SenseCode(SenseKey.IllegalRequest, 0x21, 0x00), f.Code);
        Assert.False(f.Descriptor);
        Assert.True(SenseData.TryParse(Fixed(0x3, 0x11, 0x00, 0xF1), out var deferred)); // VALID bit set, deferred
        Assert.True(deferred.Deferred);
        Assert.True(SenseData.TryParse(Descriptor(0x7, 0x27, 0x07, 0x73), out var d));
        Assert.Equal(new SenseCode(SenseKey.DataProtect, 0x27, 0x07), d.Code);
        Assert.True(d.Descriptor && d.Deferred);
        Assert.False(SenseData.TryParse([0x7F, 0, 0], out _));
        Assert.False(SenseData.TryParse([], out _));
        Assert.False(SenseData.TryParse([0x72, 0x05], out _));
        // A fixed-format sense too short to hold ASC/ASCQ still gives the key.
        Assert.True(SenseData.TryParse([0x70, 0, 0x06], out var shortSense));
        Assert.Equal(SenseKey.UnitAttention, shortSense.Code.Key);
        Assert.Equal(0, shortSense.Code.Asc);
    }

    [Theory]
    [InlineData(0x5, 0x21, 0x00, BlockError.OutOfRange, 22u, 28u)]
    [InlineData(0x5, 0x20, 0x00, BlockError.NotSupported, 95u, 95u)]
    [InlineData(0x5, 0x24, 0x00, BlockError.InvalidArgument, 22u, 22u)]
    [InlineData(0x5, 0x26, 0x02, BlockError.InvalidArgument, 22u, 22u)]
    [InlineData(0x7, 0x27, 0x00, BlockError.ReadOnly, 1u, 1u)]
    [InlineData(0x7, 0x27, 0x07, BlockError.NoSpace, 28u, 28u)]
    [InlineData(0x3, 0x11, 0x00, BlockError.MediumError, 5u, 5u)]
    [InlineData(0x4, 0x44, 0x00, BlockError.MediumError, 5u, 5u)]
    [InlineData(0x2, 0x3A, 0x00, BlockError.NotReady, 5u, 5u)]
    [InlineData(0xD, 0x00, 0x00, BlockError.NoSpace, 28u, 28u)]
    [InlineData(0xE, 0x1D, 0x00, BlockError.MediumError, 5u, 5u)]
    public void MapsSenseToBlockErrorAndErrno(byte key, byte asc, byte ascq, BlockError expected, uint readErrno, uint writeErrno)
    {
        foreach (var sense in new[] { Fixed(key, asc, ascq), Descriptor(key, asc, ascq) })
        {
            Assert.True(SenseData.TryParse(sense, out var info));
            Assert.Equal(expected, ScsiSenseMapper.ToBlockError(info));
            Assert.Equal(ScsiOutcome.Failure, ScsiSenseMapper.Classify(SrbStatus.Error, ScsiStatus.CheckCondition, sense, out var error));
            Assert.Equal(expected, error);
            Assert.Equal(readErrno, (uint)ScsiSenseMapper.ToErrno(sense, isWrite: false));
            Assert.Equal(writeErrno, (uint)ScsiSenseMapper.ToErrno(sense, isWrite: true));
        }
    }

    [Theory]
    [InlineData(0x6, 0x29, 0x00)] // UNIT ATTENTION: power on / reset
    [InlineData(0xB, 0x47, 0x00)] // ABORTED COMMAND
    [InlineData(0x2, 0x04, 0x01)] // becoming ready
    public void TransientSenseIsRetried(byte key, byte asc, byte ascq) =>
        Assert.Equal(ScsiOutcome.Retry, ScsiSenseMapper.Classify(SrbStatus.Error, ScsiStatus.CheckCondition, Fixed(key, asc, ascq), out _));

    [Fact]
    public void RecoveredErrorIsSuccess() =>
        Assert.Equal(ScsiOutcome.Success, ScsiSenseMapper.Classify(SrbStatus.Error, ScsiStatus.CheckCondition, Fixed(0x1, 0x17, 0x00), out _));

    [Theory]
    [InlineData(SrbStatus.Success, ScsiStatus.Good, ScsiOutcome.Success, null)]
    [InlineData(SrbStatus.Error, ScsiStatus.ConditionMet, ScsiOutcome.Success, null)]
    [InlineData(SrbStatus.Timeout, ScsiStatus.Good, ScsiOutcome.Retry, null)]
    [InlineData(SrbStatus.BusReset, ScsiStatus.Good, ScsiOutcome.Retry, null)]
    [InlineData(SrbStatus.Busy, ScsiStatus.Good, ScsiOutcome.Retry, null)]
    [InlineData(SrbStatus.Error, ScsiStatus.TaskSetFull, ScsiOutcome.Retry, null)]
    [InlineData(SrbStatus.Error, ScsiStatus.ReservationConflict, ScsiOutcome.Failure, BlockError.ReadOnly)]
    [InlineData(SrbStatus.Error, ScsiStatus.CheckCondition, ScsiOutcome.Failure, BlockError.MediumError)] // no sense
    [InlineData(SrbStatus.NoDevice, ScsiStatus.Good, ScsiOutcome.Failure, BlockError.NotReady)]
    [InlineData(SrbStatus.LinkDown, ScsiStatus.Good, ScsiOutcome.Failure, BlockError.NotReady)]
    [InlineData(SrbStatus.InvalidRequest, ScsiStatus.Good, ScsiOutcome.Failure, BlockError.InvalidArgument)]
    [InlineData(SrbStatus.DataOverrun, ScsiStatus.Good, ScsiOutcome.Failure, BlockError.MediumError)]
    public void ClassifiesSrbStatus(SrbStatus status, ScsiStatus scsi, ScsiOutcome outcome, BlockError? error)
    {
        Assert.Equal(outcome, ScsiSenseMapper.Classify(status, scsi, default, out var e));
        if (error is { } expected) Assert.Equal(expected, e);
    }

    [Fact]
    public void ErrnoValuesAreLinuxs()
    {
        Assert.Equal([1u, 5, 12, 22, 28, 75, 95, 108], new[] { Errno.EPERM, Errno.EIO, Errno.ENOMEM, Errno.EINVAL, Errno.ENOSPC, Errno.EOVERFLOW, Errno.ENOTSUP, Errno.ESHUTDOWN }.Select(e => (uint)e));
    }
}
