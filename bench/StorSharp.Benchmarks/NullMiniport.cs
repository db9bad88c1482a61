using StorSharp.Port;

namespace StorSharp.Benchmarks;

/// <summary>
/// A miniport that does no work: one LU that answers enumeration and completes every other request
/// inline with SUCCESS. Measures the port alone.
/// </summary>
internal sealed class NullMiniport : IVirtualMiniport
{
    private IPortServices _port = null!;

    public FindAdapterResult FindAdapter(IPortServices port, PortConfiguration configuration, string? arguments)
    {
        _port = port;
        configuration.NumberOfBuses = 1;
        configuration.MaximumNumberOfTargets = 1;
        configuration.MaximumNumberOfLogicalUnits = 1;
        return FindAdapterResult.Found;
    }

    public bool Initialize() => true;

    public bool StartIo(Srb srb)
    {
        if (srb.OperationCode == 0x12 && srb.Data.Count > 0) srb.Data[0].Span.Clear(); // INQUIRY: peripheral qualifier 0, a disk
        if (srb.OperationCode == 0xA0 && srb.Data.Count > 0) { srb.Data[0].Span.Clear(); srb.Data[0].Span[3] = 8; } // REPORT LUNS: LUN 0 (without it the port found no LU)
        srb.Status = SrbStatus.Success;
        _port.CompleteRequest(srb);
        return true;
    }

    public bool ResetBus(byte pathId) => true;

    public ControlStatus AdapterControl(AdapterControlType type, ISet<AdapterControlType> supported) => ControlStatus.Success;

    public void FreeAdapterResources() { }
}
