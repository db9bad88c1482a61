[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace StorSharp.Interop.Tests;

/// <summary>
/// A process-level test. It is skipped, with the reason, only when a client tool it needs is not
/// installed (scripts/test.sh installs them as root).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class InteropFactAttribute : FactAttribute
{
    public InteropFactAttribute(params string[] tools)
    {
        var missing = tools.Where(t => !Cli.Has(t)).ToList();
        if (missing.Count > 0) Skip = $"needs {string.Join(", ", missing)} (scripts/test.sh installs it as root)";
    }
}
