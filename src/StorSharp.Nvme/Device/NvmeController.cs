using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using StorSharp.Block;

namespace StorSharp.Nvme;

/// <summary>
/// The device model: an NVMe controller with its namespaces that executes NVM I/O commands
/// (Read, Write, Compare, Verify, Flush, Dataset Management deallocate, Write Zeroes, and the fused
/// Compare + Write pair) over block devices. It reads
/// the data pointer the way a controller does: it walks PRP1, PRP2 and the PRP list pages
/// (<see cref="PrpWalker"/>) and moves data to and from <see cref="HostMemory"/>.
/// </summary>
/// <remarks>
/// Commands may be submitted concurrently from any thread; each completes exactly once through its
/// handler, inline (a RAM disk) or later (a file). Per-command state is pooled: a command allocates
/// nothing once the pool has grown to the commands in flight.
/// </remarks>
public sealed class NvmeController
{
    /// <summary>The most ranges one Dataset Management command carries (NR is 8 bits, 0-based).</summary>
    public const int MaxDatasetRanges = 256;

    /// <summary>The size of one Dataset Management range definition.</summary>
    public const int DatasetRangeLength = 16;

    private readonly NvmeNamespace?[] _namespaces;
    private readonly object _poolLock = new();
    private readonly Stack<Execution> _pool = new();

    /// <summary>Creates a controller with <paramref name="namespaces"/> (identifiers must be unique).</summary>
    /// <param name="memory">The host memory the controller transfers to and from.</param>
    /// <param name="namespaces">The active namespaces.</param>
    /// <param name="maxTransferBytes">The largest data transfer of one command (MDTS as bytes).</param>
    /// <exception cref="ArgumentException">Two namespaces share an identifier.</exception>
    public NvmeController(HostMemory memory, IEnumerable<NvmeNamespace> namespaces, int maxTransferBytes = 8 * 1024 * 1024)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(namespaces);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTransferBytes, memory.PageSize);
        Memory = memory;
        MaxTransferBytes = maxTransferBytes;
        var list = namespaces.ToArray();
        uint max = list.Length == 0 ? 0 : list.Max(n => n.NamespaceId);
        _namespaces = new NvmeNamespace?[max + 1];
        foreach (var ns in list)
        {
            if (_namespaces[ns.NamespaceId] is not null) throw new ArgumentException($"Namespace {ns.NamespaceId} is defined twice.", nameof(namespaces));
            _namespaces[ns.NamespaceId] = ns;
        }
    }

    /// <summary>The host memory PRPs point into.</summary>
    public HostMemory Memory { get; }

    /// <summary>The largest transfer of one Read or Write in bytes (MDTS).</summary>
    public int MaxTransferBytes { get; }

    /// <summary>The active namespace <paramref name="namespaceId"/>, or null.</summary>
    public NvmeNamespace? GetNamespace(uint namespaceId) => namespaceId < (uint)_namespaces.Length ? _namespaces[namespaceId] : null;

    /// <summary>Submits one I/O command; <paramref name="handler"/> gets its completion exactly once.</summary>
    public void Submit(in NvmeCommand command, INvmeCompletionHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Rent().Start(command, handler);
    }

    /// <summary>
    /// Submits a fused pair (NVMe base specification §4.2): a Compare (FUSE = first) and a Write
    /// (FUSE = second) of the same blocks, executed as one atomic unit with respect to the other
    /// fused pairs of the namespace: the Write runs only when the Compare found equal data.
    /// <paramref name="handler"/> gets two completions, the Compare's then the Write's; when the
    /// Compare fails the Write completes with Command Aborted due to Failed Fused Command.
    /// </summary>
    public void SubmitFused(in NvmeCommand compare, in NvmeCommand write, INvmeCompletionHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Rent().StartFused(compare, write, handler);
    }

    private Execution Rent()
    {
        lock (_poolLock)
        {
            if (_pool.TryPop(out var execution)) return execution;
        }
        return new Execution(this);
    }

    /// <summary>The most bytes one step of a Verify reads back (it has no data pointer, so no MDTS limit).</summary>
    private const int VerifyChunkBytes = 1 << 20;

    private void Return(Execution execution)
    {
        lock (_poolLock) _pool.Push(execution);
    }

    /// <summary>The NVMe status a block device's failure maps to.</summary>
    internal static NvmeStatus StatusOf(Exception exception, bool write) => exception switch
    {
        BlockDeviceException b => b.Error switch
        {
            BlockError.OutOfRange => NvmeStatus.LbaOutOfRange,
            BlockError.InvalidArgument => NvmeStatus.InvalidField,
            BlockError.ReadOnly => NvmeStatus.NamespaceWriteProtected,
            BlockError.NotSupported => NvmeStatus.InvalidField,
            BlockError.NoSpace => NvmeStatus.CapacityExceeded,
            BlockError.MediumError => write ? NvmeStatus.WriteFault : NvmeStatus.UnrecoveredReadError,
            BlockError.NotReady => NvmeStatus.NamespaceNotReady,
            _ => NvmeStatus.InternalError,
        },
        OperationCanceledException => NvmeStatus.AbortRequested,
        _ => NvmeStatus.InternalError,
    };

    /// <summary>One command (or fused pair) in flight: its data runs, staging buffers and the backend call it waits on.</summary>
    private sealed class Execution
    {
        private readonly NvmeController _controller;
        private readonly List<Memory<byte>> _runs = new(4);
        private readonly List<Memory<byte>> _secondRuns = new(4);
        private readonly byte[] _ranges = new byte[MaxDatasetRanges * DatasetRangeLength];
        private readonly Action _onBackendDone;
        private readonly Action _startFused;
        private NvmeCommand _command;
        private NvmeCommand _second; // the Write of a fused Compare + Write
        private bool _fused, _holdsGate;
        private INvmeCompletionHandler? _handler;
        private NvmeNamespace? _ns;
        private byte[]? _staging, _secondStaging;
        private byte[]? _medium; // the namespace's blocks read back by Compare and Verify
        private Memory<byte> _buffer, _secondBuffer;
        private int _step, _steps, _chunkBlocks;
        private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _awaiter;

        public Execution(NvmeController controller)
        {
            _controller = controller;
            _onBackendDone = OnBackendDone;
            _startFused = StartFusedNow;
        }

        private bool Writes => _fused || _command.Opcode is NvmeOpcodes.Write or NvmeOpcodes.WriteZeroes or NvmeOpcodes.DatasetManagement;

        public void Start(in NvmeCommand command, INvmeCompletionHandler handler)
        {
            _command = command;
            _handler = handler;
            _fused = false;
            _step = 0;
            _steps = 1;
            var status = Prepare();
            if (!status.IsSuccess) { Finish(status); return; }
            Pump();
        }

        public void StartFused(in NvmeCommand compare, in NvmeCommand write, INvmeCompletionHandler handler)
        {
            _command = compare;
            _second = write;
            _handler = handler;
            _fused = true;
            _step = 0;
            _steps = 2;
            var ns = _controller.GetNamespace(compare.NamespaceId);
            if (ns is null) { Finish(NvmeStatus.InvalidNamespaceOrFormat); return; }
            if (ns.FusedGate.TryEnter(_startFused)) StartFusedNow();
        }

        /// <summary>The pair holds its namespace's gate: check both commands and run.</summary>
        private void StartFusedNow()
        {
            _holdsGate = true;
            var status = PrepareFused();
            if (!status.IsSuccess) { Finish(status); return; }
            Pump();
        }

        private NvmeStatus PrepareFused()
        {
            var ns = _ns = _controller.GetNamespace(_command.NamespaceId)!;
            if (_command.Opcode != NvmeOpcodes.Compare || _second.Opcode != NvmeOpcodes.Write || _second.NamespaceId != _command.NamespaceId
                || _second.StartingLba != _command.StartingLba || _second.BlockCount != _command.BlockCount)
                return NvmeStatus.InvalidField; // a fused pair is a Compare then a Write of the same blocks
            if (!InRange(ns, _command.StartingLba, _command.BlockCount)) return NvmeStatus.LbaOutOfRange;
            if (ns.WriteProtected) return NvmeStatus.NamespaceWriteProtected;
            int bytes = _command.BlockCount * ns.BlockSize;
            if (bytes > _controller.MaxTransferBytes) return NvmeStatus.InvalidField;
            var status = MapData(_command, bytes, _runs, ref _staging, out _buffer, copyIn: true);
            if (!status.IsSuccess) return status;
            status = MapData(_second, bytes, _secondRuns, ref _secondStaging, out _secondBuffer, copyIn: true);
            if (!status.IsSuccess) return status;
            _medium = ArrayPool<byte>.Shared.Rent(bytes);
            return NvmeStatus.Success;
        }

        /// <summary>Checks the command and reads its data pointer; sets how many backend calls it takes.</summary>
        private NvmeStatus Prepare()
        {
            var ns = _ns = _controller.GetNamespace(_command.NamespaceId);
            if (ns is null) return NvmeStatus.InvalidNamespaceOrFormat;
            switch (_command.Opcode)
            {
                case NvmeOpcodes.Flush:
                    return NvmeStatus.Success;
                case NvmeOpcodes.Read:
                case NvmeOpcodes.Write:
                case NvmeOpcodes.Compare:
                {
                    if (!InRange(ns, _command.StartingLba, _command.BlockCount)) return NvmeStatus.LbaOutOfRange;
                    if (_command.Opcode == NvmeOpcodes.Write && ns.WriteProtected) return NvmeStatus.NamespaceWriteProtected;
                    long bytes = (long)_command.BlockCount * ns.BlockSize;
                    if (bytes > _controller.MaxTransferBytes) return NvmeStatus.InvalidField;
                    var status = MapData(_command, (int)bytes, _runs, ref _staging, out _buffer, copyIn: _command.Opcode != NvmeOpcodes.Read);
                    if (!status.IsSuccess) return status;
                    if (_command.Opcode == NvmeOpcodes.Compare) _medium = ArrayPool<byte>.Shared.Rent((int)bytes);
                    return NvmeStatus.Success;
                }
                case NvmeOpcodes.Verify:
                {
                    // No data pointer and no MDTS limit: the blocks are read back in bounded chunks.
                    if (!InRange(ns, _command.StartingLba, _command.BlockCount)) return NvmeStatus.LbaOutOfRange;
                    _chunkBlocks = Math.Max(1, Math.Min(VerifyChunkBytes, _controller.MaxTransferBytes) / ns.BlockSize);
                    _steps = (_command.BlockCount + _chunkBlocks - 1) / _chunkBlocks;
                    _medium = ArrayPool<byte>.Shared.Rent(Math.Min(_command.BlockCount, _chunkBlocks) * ns.BlockSize);
                    return NvmeStatus.Success;
                }
                case NvmeOpcodes.WriteZeroes:
                    if (!InRange(ns, _command.StartingLba, _command.BlockCount)) return NvmeStatus.LbaOutOfRange;
                    if (ns.WriteProtected) return NvmeStatus.NamespaceWriteProtected;
                    if (_command.Deallocate && !ns.SupportsDeallocate) return NvmeStatus.InvalidField;
                    return NvmeStatus.Success;
                case NvmeOpcodes.DatasetManagement:
                {
                    if (!ns.SupportsDeallocate) return NvmeStatus.InvalidOpcode;
                    if (!_command.AttributeDeallocate) { _steps = 0; return NvmeStatus.Success; } // only hints: nothing to do
                    if (ns.WriteProtected) return NvmeStatus.NamespaceWriteProtected;
                    int count = _command.RangeCount;
                    var walk = PrpWalker.Walk(_controller.Memory, _command.Prp1, _command.Prp2, count * DatasetRangeLength, _runs);
                    if (!walk.IsSuccess) return walk;
                    int at = 0;
                    foreach (var run in _runs) { run.Span.CopyTo(_ranges.AsSpan(at)); at += run.Length; }
                    for (int i = 0; i < count; i++)
                    {
                        var (lba, blocks) = Range(i);
                        if (!InRange(ns, lba, blocks)) return NvmeStatus.LbaOutOfRange;
                    }
                    _steps = count;
                    return NvmeStatus.Success;
                }
                default:
                    return NvmeStatus.InvalidOpcode;
            }
        }

        /// <summary>
        /// Walks a command's PRPs: one run of host memory is used as it is; scattered host pages are
        /// staged through one pooled buffer (the device's own memory), copied in when the host's
        /// data goes to the device (<paramref name="copyIn"/>).
        /// </summary>
        private NvmeStatus MapData(in NvmeCommand command, int bytes, List<Memory<byte>> runs, ref byte[]? staging, out Memory<byte> buffer, bool copyIn)
        {
            buffer = default;
            var walk = PrpWalker.Walk(_controller.Memory, command.Prp1, command.Prp2, bytes, runs);
            if (!walk.IsSuccess) return walk;
            if (runs.Count == 1) { buffer = runs[0]; return NvmeStatus.Success; }
            staging = ArrayPool<byte>.Shared.Rent(bytes);
            buffer = staging.AsMemory(0, bytes);
            if (copyIn)
            {
                int at = 0;
                foreach (var run in runs) { run.Span.CopyTo(buffer.Span[at..]); at += run.Length; }
            }
            return NvmeStatus.Success;
        }

        private static bool InRange(NvmeNamespace ns, ulong lba, long blocks) => lba <= (ulong)ns.BlockCount && (ulong)ns.BlockCount - lba >= (ulong)blocks;

        private (ulong Lba, uint Blocks) Range(int index)
        {
            var r = _ranges.AsSpan(index * DatasetRangeLength, DatasetRangeLength);
            return (BinaryPrimitives.ReadUInt64LittleEndian(r[8..]), BinaryPrimitives.ReadUInt32LittleEndian(r[4..]));
        }

        private ValueTask Issue(int step)
        {
            var ns = _ns!;
            var device = ns.Device;
            if (_fused)
            {
                return step == 0
                    ? device.ReadAsync((long)_command.StartingLba, _medium.AsMemory(0, _buffer.Length))
                    : device.WriteAsync((long)_second.StartingLba, _secondBuffer, _second.ForceUnitAccess ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None);
            }
            switch (_command.Opcode)
            {
                case NvmeOpcodes.Read:
                    return device.ReadAsync((long)_command.StartingLba, _buffer);
                case NvmeOpcodes.Write:
                    return device.WriteAsync((long)_command.StartingLba, _buffer, _command.ForceUnitAccess ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None);
                case NvmeOpcodes.Compare:
                    return device.ReadAsync((long)_command.StartingLba, _medium.AsMemory(0, _buffer.Length));
                case NvmeOpcodes.Verify:
                {
                    int first = step * _chunkBlocks;
                    int blocks = Math.Min(_chunkBlocks, _command.BlockCount - first);
                    return device.ReadAsync((long)_command.StartingLba + first, _medium.AsMemory(0, blocks * ns.BlockSize));
                }
                case NvmeOpcodes.Flush:
                    return device.FlushAsync();
                case NvmeOpcodes.WriteZeroes:
                    var flags = (_command.Deallocate ? WriteZeroesFlags.MayUnmap : WriteZeroesFlags.None) | (_command.ForceUnitAccess ? WriteZeroesFlags.ForceUnitAccess : WriteZeroesFlags.None);
                    return device.WriteZeroesAsync((long)_command.StartingLba, _command.BlockCount, flags);
                default:
                    var (lba, count) = Range(step);
                    return count == 0 ? ValueTask.CompletedTask : device.UnmapAsync((long)lba, count);
            }
        }

        /// <summary>What a finished backend call means: a Compare (alone or the first of a fused pair) compares here.</summary>
        private NvmeStatus AfterStep(int step)
        {
            bool compares = _fused ? step == 0 : _command.Opcode == NvmeOpcodes.Compare;
            if (compares && !_buffer.Span.SequenceEqual(_medium.AsSpan(0, _buffer.Length))) return NvmeStatus.CompareFailure;
            return NvmeStatus.Success;
        }

        private void Pump()
        {
            try
            {
                while (_step < _steps)
                {
                    var awaiter = Issue(_step).ConfigureAwait(false).GetAwaiter();
                    if (!awaiter.IsCompleted)
                    {
                        _awaiter = awaiter;
                        _awaiter.UnsafeOnCompleted(_onBackendDone);
                        return;
                    }
                    awaiter.GetResult();
                    var status = AfterStep(_step);
                    if (!status.IsSuccess) { Finish(status); return; }
                    _step++;
                }
            }
            catch (Exception ex)
            {
                Finish(StatusOf(ex, Writes));
                return;
            }
            Finish(NvmeStatus.Success);
        }

        private void OnBackendDone()
        {
            var awaiter = _awaiter;
            _awaiter = default;
            NvmeStatus status;
            try
            {
                awaiter.GetResult();
                status = AfterStep(_step);
            }
            catch (Exception ex)
            {
                Finish(StatusOf(ex, Writes));
                return;
            }
            if (!status.IsSuccess) { Finish(status); return; }
            _step++;
            Pump();
        }

        private void Finish(NvmeStatus status)
        {
            if (_staging is { } staging)
            {
                if (status.IsSuccess && _command.Opcode == NvmeOpcodes.Read && !_fused)
                {
                    int at = 0;
                    foreach (var run in _runs) { _buffer.Span.Slice(at, run.Length).CopyTo(run.Span); at += run.Length; }
                }
                ArrayPool<byte>.Shared.Return(staging);
                _staging = null;
            }
            if (_secondStaging is { } secondStaging)
            {
                ArrayPool<byte>.Shared.Return(secondStaging);
                _secondStaging = null;
            }
            if (_medium is { } medium)
            {
                ArrayPool<byte>.Shared.Return(medium);
                _medium = null;
            }
            var handler = _handler!;
            var first = new NvmeCompletion(_command.CommandId, status);
            bool fused = _fused;
            NvmeCompletion second = default;
            if (fused)
            {
                // A failure before the Write ran (checks, the read, the compare) is the Compare's; the
                // Write is then aborted. A failure of the Write leaves the Compare successful.
                bool writeFailed = !status.IsSuccess && _step == 1;
                first = new NvmeCompletion(_command.CommandId, writeFailed ? NvmeStatus.Success : status);
                second = new NvmeCompletion(_second.CommandId, writeFailed || status.IsSuccess ? status : NvmeStatus.AbortedFailedFused);
            }
            var gate = _holdsGate ? _ns!.FusedGate : null;
            _handler = null;
            _ns = null;
            _buffer = _secondBuffer = default;
            _runs.Clear();
            _secondRuns.Clear();
            _fused = _holdsGate = false;
            _controller.Return(this);
            handler.OnNvmeCompleted(first);
            if (fused) handler.OnNvmeCompleted(second);
            gate?.Exit();
        }
    }
}
