using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using StorSharp.Block;

namespace StorSharp.Nvme;

/// <summary>
/// The device model: an NVMe controller with its namespaces that executes NVM I/O commands
/// (Read, Write, Flush, Dataset Management deallocate, Write Zeroes) over block devices. It reads
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
        Execution execution;
        lock (_poolLock)
        {
            if (!_pool.TryPop(out execution!)) execution = new Execution(this);
        }
        execution.Start(command, handler);
    }

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

    /// <summary>One command in flight: its data runs, staging buffer and the backend call it waits on.</summary>
    private sealed class Execution
    {
        private readonly NvmeController _controller;
        private readonly List<Memory<byte>> _runs = new(4);
        private readonly byte[] _ranges = new byte[MaxDatasetRanges * DatasetRangeLength];
        private readonly Action _onBackendDone;
        private NvmeCommand _command;
        private INvmeCompletionHandler? _handler;
        private NvmeNamespace? _ns;
        private byte[]? _staging;
        private Memory<byte> _buffer;
        private int _step, _steps;
        private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _awaiter;

        public Execution(NvmeController controller)
        {
            _controller = controller;
            _onBackendDone = OnBackendDone;
        }

        private bool Writes => _command.Opcode is NvmeOpcodes.Write or NvmeOpcodes.WriteZeroes or NvmeOpcodes.DatasetManagement;

        public void Start(in NvmeCommand command, INvmeCompletionHandler handler)
        {
            _command = command;
            _handler = handler;
            _step = 0;
            _steps = 1;
            var status = Prepare();
            if (!status.IsSuccess) { Finish(status); return; }
            Pump();
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
                {
                    if (!InRange(ns, _command.StartingLba, _command.BlockCount)) return NvmeStatus.LbaOutOfRange;
                    if (_command.Opcode == NvmeOpcodes.Write && ns.WriteProtected) return NvmeStatus.NamespaceWriteProtected;
                    long bytes = (long)_command.BlockCount * ns.BlockSize;
                    if (bytes > _controller.MaxTransferBytes) return NvmeStatus.InvalidField;
                    var walk = PrpWalker.Walk(_controller.Memory, _command.Prp1, _command.Prp2, bytes, _runs);
                    if (!walk.IsSuccess) return walk;
                    if (_runs.Count == 1) _buffer = _runs[0];
                    else
                    {
                        // Scattered host pages: stage through one pooled buffer (the device's own memory).
                        _staging = ArrayPool<byte>.Shared.Rent((int)bytes);
                        _buffer = _staging.AsMemory(0, (int)bytes);
                        if (_command.Opcode == NvmeOpcodes.Write)
                        {
                            int at = 0;
                            foreach (var run in _runs) { run.Span.CopyTo(_buffer.Span[at..]); at += run.Length; }
                        }
                    }
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
            switch (_command.Opcode)
            {
                case NvmeOpcodes.Read:
                    return device.ReadAsync((long)_command.StartingLba, _buffer);
                case NvmeOpcodes.Write:
                    return device.WriteAsync((long)_command.StartingLba, _buffer, _command.ForceUnitAccess ? BlockWriteFlags.ForceUnitAccess : BlockWriteFlags.None);
                case NvmeOpcodes.Flush:
                    return device.FlushAsync();
                case NvmeOpcodes.WriteZeroes:
                    var flags = (_command.Deallocate ? WriteZeroesFlags.MayUnmap : WriteZeroesFlags.None) | (_command.ForceUnitAccess ? WriteZeroesFlags.ForceUnitAccess : WriteZeroesFlags.None);
                    return device.WriteZeroesAsync((long)_command.StartingLba, _command.BlockCount, flags);
                default:
                    var (lba, blocks) = Range(step);
                    return blocks == 0 ? ValueTask.CompletedTask : device.UnmapAsync((long)lba, blocks);
            }
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
            try { awaiter.GetResult(); }
            catch (Exception ex)
            {
                Finish(StatusOf(ex, Writes));
                return;
            }
            _step++;
            Pump();
        }

        private void Finish(NvmeStatus status)
        {
            if (_staging is { } staging)
            {
                if (status.IsSuccess && _command.Opcode == NvmeOpcodes.Read)
                {
                    int at = 0;
                    foreach (var run in _runs) { _buffer.Span.Slice(at, run.Length).CopyTo(run.Span); at += run.Length; }
                }
                ArrayPool<byte>.Shared.Return(staging);
                _staging = null;
            }
            var handler = _handler!;
            var completion = new NvmeCompletion(_command.CommandId, status);
            _handler = null;
            _ns = null;
            _buffer = default;
            _runs.Clear();
            _controller.Return(this);
            handler.OnNvmeCompleted(completion);
        }
    }
}
