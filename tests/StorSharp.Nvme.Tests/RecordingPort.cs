using StorSharp.Port;

namespace StorSharp.Nvme.Tests;

/// <summary>Port services that only record completions: for driving a miniport directly, without the port's own checks in front of it.</summary>
/// <param name="keep">False only counts completions, so that driving the miniport allocates nothing here (the allocation tests).</param>
internal sealed class RecordingPort(bool keep = true) : IPortServices
{
    public List<Srb> Completed { get; } = [];

    /// <summary>Completions so far, kept or not.</summary>
    public int CompletedCount { get; private set; }

    public string AdapterName => "RaidPortTest";
    public TimeProvider Time => TimeProvider.System;
    public void CompleteRequest(Srb srb)
    {
        CompletedCount++;
        if (keep) Completed.Add(srb);
    }
    public void CompleteAllRequests(ScsiAddress address, SrbStatus status) { }
    public void Pause(TimeSpan timeout) { }
    public void Resume() { }
    public void PauseDevice(ScsiAddress address, TimeSpan timeout) { }
    public void ResumeDevice(ScsiAddress address) { }
    public void Busy(int requestsToComplete) { }
    public void Ready() { }
    public void DeviceBusy(ScsiAddress address, int requestsToComplete) { }
    public void DeviceReady(ScsiAddress address) { }
    public bool SetDeviceQueueDepth(ScsiAddress address, int depth) => true;
    public void LinkDown() { }
    public void LinkUp() { }
    public void BusChangeDetected(byte pathId) { }
    public void ResetDetected(byte pathId) { }
    public IDisposable RequestTimer(Action callback, TimeSpan delay) => throw new NotSupportedException();
    public void LogError(Srb? srb, ScsiAddress address, PortErrorCode code, uint uniqueId) { }
    public LogicalUnit? GetLogicalUnit(ScsiAddress address) => null;
}
