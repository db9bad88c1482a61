using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using StorSharp.Port;

namespace StorSharp.Testing;

/// <summary>How the test miniport answers a reset request.</summary>
public enum ResetBehavior
{
    /// <summary>Completes every held request under the reset with BUS_RESET, then the reset with SUCCESS.</summary>
    CompleteHeldAndSucceed,
    /// <summary>Completes the reset with ERROR and leaves held requests alone.</summary>
    Fail,
    /// <summary>Never answers.</summary>
    NoAnswer,
    /// <summary>Answers SUCCESS without touching held requests (the no-op reset some miniports have).</summary>
    SucceedWithoutCompleting,
}

/// <summary>
/// A scriptable virtual miniport for port tests. It answers the port's enumeration (INQUIRY,
/// REPORT LUNS) for the units it is given, and hands every other request to <see cref="OnIo"/>.
/// Requests a test wants to complete later are parked in <see cref="Held"/>.
/// </summary>
public sealed class TestMiniport : IVirtualMiniport, IMiniportBuildIo, IMiniportUnitControl
{
    private readonly HashSet<ScsiAddress> _units;
    private int _startIoCalls;

    public TestMiniport(IEnumerable<ScsiAddress>? units = null, int buses = 1, int targets = 1)
    {
        _units = [.. units ?? [new ScsiAddress(0, 0, 0)]];
        Buses = buses;
        Targets = targets;
    }

    public int Buses { get; set; }
    public int Targets { get; set; }
    public int QueueDepth { get; set; } = 250;
    public bool SupportRestart { get; set; }
    public IPortServices Port { get; private set; } = null!;
    public List<string> Calls { get; } = [];
    public ConcurrentQueue<Srb> Held { get; } = new();
    /// <summary>The reset requests received, as (function, address): the SRBs themselves go back to the pool.</summary>
    public ConcurrentQueue<(SrbFunction Function, ScsiAddress Address)> ResetRequests { get; } = new();
    public int StartIoCalls => Volatile.Read(ref _startIoCalls);
    public int BuildIoCalls;
    public ResetBehavior LuReset { get; set; } = ResetBehavior.CompleteHeldAndSucceed;
    public ResetBehavior TargetReset { get; set; } = ResetBehavior.CompleteHeldAndSucceed;
    public bool BusResetResult { get; set; } = true;
    public bool BusResetCompletesHeld { get; set; } = true;
    public List<byte> BusResets { get; } = [];

    /// <summary>Handles a data request. Default: success with every byte moved, completed inline.</summary>
    public Action<Srb, TestMiniport> OnIo { get; set; } = static (srb, mp) => mp.Complete(srb, SrbStatus.Success);

    public static VirtualMiniportRegistration Register(TestMiniport miniport, int srbExtension = 0) => new()
    {
        Name = "TestMiniport",
        CreateMiniport = () => miniport,
        SrbExtensionSize = srbExtension,
        SpecificLuExtensionSize = 16,
    };

    public void AddUnit(ScsiAddress a) { lock (_units) _units.Add(a); }
    public void RemoveUnit(ScsiAddress a) { lock (_units) _units.Remove(a); }

    public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments)
    {
        Calls.Add("FindAdapter");
        Port = port;
        configuration.NumberOfBuses = Buses;
        configuration.MaximumNumberOfTargets = Targets;
        configuration.MaximumNumberOfLogicalUnits = 8;
        configuration.DefaultQueueDepth = QueueDepth;
        configuration.BusType = StorageBusType.Virtual;
        return FindAdapterResult.Found;
    }

    public bool Initialize() { Calls.Add("Initialize"); return true; }

    public bool BuildIo(Srb srb)
    {
        Interlocked.Increment(ref BuildIoCalls);
        return true;
    }

    public bool StartIo(Srb srb)
    {
        Interlocked.Increment(ref _startIoCalls);
        switch (srb.Function)
        {
            case SrbFunction.ResetLogicalUnit:
            case SrbFunction.ResetDevice:
                ResetRequests.Enqueue((srb.Function, srb.Address));
                Reset(srb, srb.Function == SrbFunction.ResetLogicalUnit ? LuReset : TargetReset);
                return true;
            case SrbFunction.AbortCommand:
                AbortHeld(srb);
                return true;
        }
        bool exists;
        lock (_units) exists = _units.Contains(srb.Address);
        bool targetExists;
        lock (_units) targetExists = _units.Any(u => u.PathId == srb.Address.PathId && u.TargetId == srb.Address.TargetId);
        if (srb.Function == SrbFunction.ExecuteScsi && srb.OperationCode == 0x12) { Inquiry(srb, exists, targetExists); return true; }
        if (srb.Function == SrbFunction.ExecuteScsi && srb.OperationCode == 0xA0) { ReportLuns(srb, targetExists); return true; }
        if (!exists) { Complete(srb, SrbStatus.SelectionTimeout); return true; }
        OnIo(srb, this);
        return true;
    }

    private void Inquiry(Srb srb, bool exists, bool targetExists)
    {
        if (!targetExists) { Complete(srb, SrbStatus.SelectionTimeout); return; }
        Span<byte> data = stackalloc byte[36];
        data.Clear();
        data[0] = exists ? (byte)0x00 : (byte)0x7F;
        data[2] = 6;
        data[3] = 2;
        data[4] = 31;
        Encoding.ASCII.GetBytes("StorSh  ").CopyTo(data[8..]);
        Encoding.ASCII.GetBytes("TestDisk        ").CopyTo(data[16..]);
        Encoding.ASCII.GetBytes("0001").CopyTo(data[32..]);
        srb.DataTransferLength = srb.Data.CopyFrom(0, data[..(int)Math.Min(36, srb.Data.Length)]);
        Complete(srb, SrbStatus.Success, keepLength: true);
    }

    private void ReportLuns(Srb srb, bool targetExists)
    {
        if (!targetExists) { Complete(srb, SrbStatus.SelectionTimeout); return; }
        List<byte> luns;
        lock (_units) luns = [.. _units.Where(u => u.PathId == srb.Address.PathId && u.TargetId == srb.Address.TargetId).Select(u => u.Lun).Order()];
        var data = new byte[8 + 8 * luns.Count];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(8 * luns.Count));
        for (int i = 0; i < luns.Count; i++) data[8 + 8 * i + 1] = luns[i];
        srb.DataTransferLength = srb.Data.CopyFrom(0, data);
        Complete(srb, SrbStatus.Success, keepLength: true);
    }

    /// <summary>Completes a request with a status (moving all its bytes unless <paramref name="keepLength"/>).</summary>
    public void Complete(Srb srb, SrbStatus status, ScsiStatus scsi = ScsiStatus.Good, bool keepLength = false)
    {
        srb.Status = status;
        srb.ScsiStatus = scsi;
        if (!keepLength && status != SrbStatus.Success) srb.DataTransferLength = 0;
        Port.CompleteRequest(srb);
    }

    /// <summary>Parks a request; the test completes it later.</summary>
    public void Hold(Srb srb) => Held.Enqueue(srb);

    /// <summary>Completes every parked request with <paramref name="status"/>.</summary>
    /// <summary>Completes the requests parked now (not those that completing them lets start).</summary>
    public int CompleteAllHeld(SrbStatus status = SrbStatus.Success)
    {
        int n = 0;
        for (int count = Held.Count; n < count && Held.TryDequeue(out var srb); n++) Complete(srb, status);
        return n;
    }

    private void Reset(Srb reset, ResetBehavior behavior)
    {
        switch (behavior)
        {
            case ResetBehavior.CompleteHeldAndSucceed:
                CompleteHeldMatching(a => reset.Function == SrbFunction.ResetLogicalUnit
                    ? a == reset.Address
                    : a.PathId == reset.Address.PathId && a.TargetId == reset.Address.TargetId);
                Complete(reset, SrbStatus.Success);
                break;
            case ResetBehavior.SucceedWithoutCompleting:
                Complete(reset, SrbStatus.Success);
                break;
            case ResetBehavior.Fail:
                Complete(reset, SrbStatus.Error);
                break;
            case ResetBehavior.NoAnswer:
                break;
        }
    }

    private void CompleteHeldMatching(Func<ScsiAddress, bool> match)
    {
        var keep = new List<Srb>();
        while (Held.TryDequeue(out var srb))
        {
            if (match(srb.Address)) Complete(srb, SrbStatus.BusReset);
            else keep.Add(srb);
        }
        foreach (var s in keep) Held.Enqueue(s);
    }

    private void AbortHeld(Srb abort)
    {
        var keep = new List<Srb>();
        bool found = false;
        while (Held.TryDequeue(out var srb))
        {
            if (ReferenceEquals(srb, abort.AbortTarget)) { Complete(srb, SrbStatus.Aborted); found = true; }
            else keep.Add(srb);
        }
        foreach (var s in keep) Held.Enqueue(s);
        Complete(abort, found ? SrbStatus.Success : SrbStatus.AbortFailed);
    }

    public bool ResetBus(byte pathId)
    {
        BusResets.Add(pathId);
        if (BusResetCompletesHeld) CompleteHeldMatching(a => a.PathId == pathId);
        return BusResetResult;
    }

    public ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported)
    {
        Calls.Add(type.ToString());
        if (type == AdapterControlType.QuerySupportedControlTypes)
        {
            supported.Add(AdapterControlType.QuerySupportedControlTypes);
            supported.Add(AdapterControlType.StopAdapter);
            if (SupportRestart) supported.Add(AdapterControlType.RestartAdapter);
        }
        return ControlStatus.Success;
    }

    public ControlStatus UnitControl(UnitControlType type, ScsiAddress address, ISet<UnitControlType> supported)
    {
        Calls.Add($"UnitControl:{type}:{address}");
        return ControlStatus.Success;
    }

    public void FreeAdapterResources() => Calls.Add("FreeAdapterResources");
}
