using StorSharp.Port;

namespace StorSharp.Nvme;

/// <summary>One namespace as the miniport serves it: its SCSI address, its NVMe namespace and what INQUIRY reports.</summary>
internal sealed class NvmeUnit(NvmeNamespaceDefinition definition, NvmeNamespace ns)
{
    public NvmeNamespaceDefinition Definition { get; } = definition;

    public NvmeNamespace Namespace { get; } = ns;

    public ScsiAddress Address => Definition.Address;

    public UnitAttentions Attentions { get; } = new();

    public string SerialNumber { get; } = definition.SerialNumber ?? $"NVME{definition.Address.PathId:X2}{definition.Address.TargetId:X2}{definition.Address.Lun:X2}{ns.NamespaceId:X4}";
}
