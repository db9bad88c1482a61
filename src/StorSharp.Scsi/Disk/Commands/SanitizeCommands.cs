using System.Buffers;
using System.Buffers.Binary;
using StorSharp.Block;
using StorSharp.Port;
using static StorSharp.Scsi.DiskCommands;

namespace StorSharp.Scsi;

/// <summary>A sanitize operation in progress on one LU (SBC-4 §4.11): its size and how far it got.</summary>
internal sealed class SanitizeOperation(long totalBlocks, bool allowUnrestrictedExit)
{
    private long _done;

    /// <summary>Blocks to process over every pass.</summary>
    public long TotalBlocks { get; } = Math.Max(totalBlocks, 1);

    /// <summary>AUSE: a failure of this operation may be ended by SANITIZE EXIT FAILURE MODE.</summary>
    public bool AllowUnrestrictedExit { get; } = allowUnrestrictedExit;

    /// <summary>True when the operation succeeded; set when it ends.</summary>
    public Task<bool> Completion { get; set; } = Task.FromResult(false);

    public void Advance(long blocks) => Interlocked.Add(ref _done, blocks);

    /// <summary>The PROGRESS INDICATION: the fraction done, of 65536 (SPC-4 §4.5.2.4.3).</summary>
    public ushort Progress => (ushort)Math.Min(65535, Interlocked.Read(ref _done) * 65536 / TotalBlocks);
}

/// <summary>
/// SANITIZE (SBC-4 §5.30, §4.11): OVERWRITE (every pass writes the initialization pattern, inverted
/// between passes with INVERT), BLOCK ERASE and CRYPTOGRAPHIC ERASE (on thin LUs whose unmapped blocks
/// read as zeros: the whole LU is deallocated), EXIT FAILURE MODE. The operation belongs to the LU and
/// runs asynchronously in bounded chunks; while it runs other commands get NOT READY, SANITIZE IN
/// PROGRESS with the progress indication (see <see cref="ScsiDiskMiniport"/>'s dispatch).
/// </summary>
internal static class SanitizeCommands
{
    public const byte Overwrite = 0x01, BlockErase = 0x02, CryptoErase = 0x03, ExitFailureMode = 0x1F;

    /// <summary>Bytes written (or blocks erased) per block device call.</summary>
    private const int ChunkBytes = 1 << 20;

    public static ScsiCommand[] Rows =>
    [
        SanitizeRow(Overwrite, "SANITIZE OVERWRITE", ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, null),
        SanitizeRow(BlockErase, "SANITIZE BLOCK ERASE", ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, CanErase),
        SanitizeRow(CryptoErase, "SANITIZE CRYPTOGRAPHIC ERASE", ScsiCommandFlags.NeedsMedium | ScsiCommandFlags.Writes, CanErase),
        SanitizeRow(ExitFailureMode, "SANITIZE EXIT FAILURE MODE", ScsiCommandFlags.None, null),
    ];

    // Byte 1: IMMED (bit 7), AUSE (bit 5), SERVICE ACTION; bytes 7-8 PARAMETER LIST LENGTH. Bit 6 and
    // bytes 2-6 are reserved (libiscsi's Sanitize.*Reserved set them).
    private static ScsiCommand SanitizeRow(byte serviceAction, string name, ScsiCommandFlags flags, Func<DiskUnit, bool>? availableOn) =>
        Row(ScsiOpcodes.Sanitize, name, serviceAction == Overwrite ? DataDirection.Out : DataDirection.None,
            [ScsiOpcodes.Sanitize, (byte)(0xA0 | serviceAction), 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00],
            ReservationAccess.Write, flags, Sanitize, serviceAction, availableOn, timeoutSeconds: 3600);

    /// <summary>
    /// BLOCK ERASE and CRYPTOGRAPHIC ERASE exist where deallocating every block leaves nothing
    /// readable: thin LUs (LBPME = 1, which libiscsi requires of BLOCK ERASE) whose unmapped blocks
    /// read as zeros (LBPRZ). There is no encryption key to change: CRYPTOGRAPHIC ERASE is carried
    /// out as the same deallocation, which makes the old data unreadable through the LU.
    /// </summary>
    public static bool CanErase(DiskUnit unit) =>
        unit.ThinProvisioned && (unit.Device!.Capabilities & BlockDeviceCapabilities.UnmapReadsZeroes) != 0;

    private static void Sanitize(ScsiTask task)
    {
        var cdb = task.Cdb;
        bool immed = (cdb[1] & 0x80) != 0;
        bool ause = (cdb[1] & 0x20) != 0;
        int action = cdb[1] & 0x1F;
        int length = BinaryPrimitives.ReadUInt16BigEndian(cdb[7..]);
        var unit = task.Unit;
        int blockSize = task.Device.Geometry.LogicalBlockSize;

        if (action != Overwrite)
        {
            // SBC-4 §5.30.1: BLOCK ERASE, CRYPTOGRAPHIC ERASE and EXIT FAILURE MODE take no parameter list.
            if (length != 0) { task.CompleteInvalidField(7); return; }
            if (action == ExitFailureMode)
            {
                // SBC-4 §4.11.4: EXIT FAILURE MODE ends failure mode only after a sanitize that had AUSE = 1.
                if (unit.SanitizeFailed && !unit.SanitizeFailureAllowsExit) { task.CompleteInvalidField(1, 4); return; }
                unit.SanitizeFailed = false;
                task.CompleteGood();
                return;
            }
            Start(task, new SanitizeOperation(task.Device.Geometry.BlockCount, ause), action, null, 0, false, immed, 0);
            return;
        }

        // OVERWRITE (SBC-4 §5.30.2.2): the parameter list is a 4-byte header and 1 to one block of
        // initialization pattern.
        if (length <= 4 || length > blockSize + 4) { task.CompleteInvalidField(7); return; }
        if (task.BufferLength < length) { task.CompleteCheckCondition(SenseCodes.ParameterListLengthError); return; }
        var list = new byte[length];
        task.ReadDataOut(list);
        bool invert = (list[0] & 0x80) != 0;
        int test = (list[0] >> 5) & 0x03;
        int count = list[0] & 0x1F;
        int patternLength = BinaryPrimitives.ReadUInt16BigEndian(list.AsSpan(2));
        if (test != 0) { FailParameter(task, 0, 6); return; }       // TEST: no vendor test modes
        if (count == 0) { FailParameter(task, 0, 4); return; }      // OVERWRITE COUNT 0 is reserved
        if (patternLength == 0 || patternLength > blockSize || patternLength > length - 4) { FailParameter(task, 2); return; }
        // The pattern is repeated to fill each block (SBC-4 §5.30.2.2).
        var block = new byte[blockSize];
        for (int i = 0; i < blockSize; i++) block[i] = list[4 + i % patternLength];
        long blocks = task.Device.Geometry.BlockCount;
        Start(task, new SanitizeOperation(blocks * count, ause), Overwrite, block, count, invert, immed, length);
    }

    private static void FailParameter(ScsiTask task, int byteIndex, int bit = -1) =>
        task.CompleteCheckCondition(SenseCodes.InvalidFieldInParameterList, SenseKeySpecific.Parameter(byteIndex, bit));

    private static void Start(ScsiTask task, SanitizeOperation operation, int action, byte[]? block, int passes, bool invert, bool immed, int parameterBytes)
    {
        var unit = task.Unit;
        if (!unit.TryBeginSanitize(operation))
        {
            // Another SANITIZE won the race past dispatch.
            task.CompleteCheckCondition(SenseCodes.SanitizeInProgress, SenseKeySpecific.Progress(unit.Sanitizing?.Progress ?? 0));
            return;
        }
        operation.Completion = RunAsync(unit, operation, action, block, passes, invert);
        // SBC-4 §5.30.1: IMMED = 1 returns status once the CDB and parameter list are checked; with
        // IMMED = 0 status comes when the operation ends. Either way the operation is the LU's: an
        // abort or a reset of this task does not stop it.
        if (immed) { task.CompleteTransfer(parameterBytes); return; }
        task.Run(async t =>
        {
            bool ok = await operation.Completion.ConfigureAwait(false);
            if (ok) t.CompleteTransfer(parameterBytes);
            else t.CompleteCheckCondition(SenseCodes.SanitizeCommandFailed);
        }, writing: true);
    }

    private static async Task<bool> RunAsync(DiskUnit unit, SanitizeOperation operation, int action, byte[]? block, int passes, bool invert)
    {
        await Task.Yield(); // off the dispatching thread
        bool ok = false;
        try
        {
            // Exclusive over the whole LU, after every write in flight: nothing lands on a sanitized block.
            using (await unit.Ranges.AcquireAsync(0, long.MaxValue).ConfigureAwait(false))
            {
                Interlocked.MemoryBarrier();
                while (unit.HasOverlappingWrite(null, 0, long.MaxValue)) await Task.Delay(1).ConfigureAwait(false);
                var device = unit.Device!;
                var g = device.Geometry;
                long capacity = g.BlockCount;
                int perChunk = (int)Math.Max(1, Math.Min(capacity, ChunkBytes / g.LogicalBlockSize));
                if (action == Overwrite)
                {
                    await OverwriteAsync(device, operation, block!, passes, invert, capacity, perChunk).ConfigureAwait(false);
                }
                else
                {
                    // BLOCK ERASE: deallocate; CRYPTOGRAPHIC ERASE: zero, letting the device deallocate.
                    long step = (long)perChunk * 256;
                    for (long lba = 0; lba < capacity; lba += step)
                    {
                        long n = Math.Min(step, capacity - lba);
                        if (action == BlockErase) await device.UnmapAsync(lba, n).ConfigureAwait(false);
                        else await device.WriteZeroesAsync(lba, n, WriteZeroesFlags.MayUnmap).ConfigureAwait(false);
                        operation.Advance(n);
                    }
                }
                await device.FlushAsync().ConfigureAwait(false);
                ok = true;
            }
        }
        catch (Exception)
        {
            ok = false; // SBC-4 §4.11.4: sanitize failure mode
        }
        finally
        {
            unit.EndSanitize(operation, failed: !ok);
        }
        return ok;
    }

    private static async Task OverwriteAsync(IBlockDevice device, SanitizeOperation operation, byte[] block, int passes, bool invert, long capacity, int perChunk)
    {
        int blockSize = block.Length;
        var chunk = ArrayPool<byte>.Shared.Rent(perChunk * blockSize);
        try
        {
            for (int pass = 0; pass < passes; pass++)
            {
                // INVERT = 1: the pattern is inverted between consecutive passes (SBC-4 §5.30.2.2).
                bool inverted = invert && (pass & 1) == 1;
                for (int i = 0; i < perChunk; i++)
                {
                    var d = chunk.AsSpan(i * blockSize, blockSize);
                    block.CopyTo(d);
                    if (inverted) for (int j = 0; j < d.Length; j++) d[j] = (byte)~d[j];
                }
                bool zeros = chunk.AsSpan(0, blockSize).IndexOfAnyExcept((byte)0) < 0;
                for (long lba = 0; lba < capacity;)
                {
                    int n = (int)Math.Min(perChunk, capacity - lba);
                    // An overwrite writes the medium: zeros go as zeroing that keeps the blocks allocated.
                    if (zeros) await device.WriteZeroesAsync(lba, n).ConfigureAwait(false);
                    else await device.WriteAsync(lba, chunk.AsMemory(0, n * blockSize)).ConfigureAwait(false);
                    lba += n;
                    operation.Advance(n);
                }
            }
        }
        finally { ArrayPool<byte>.Shared.Return(chunk); }
    }
}
