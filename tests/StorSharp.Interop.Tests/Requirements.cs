using StorSharp.Host;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace StorSharp.Interop.Tests;

/// <summary>
/// A process-level test. It is skipped, with the reason, when a client tool it needs is not
/// installed (scripts/test.sh installs them) or when this build does not wire the front end it
/// needs yet. ⚠ Until branches nbd and iscsi are merged into main and wired in
/// src/StorSharp.Host/Composition/DefaultComponents.cs, the NBD and iSCSI tests skip.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class InteropFactAttribute : FactAttribute
{
    public InteropFactAttribute(string frontEnds = "", params string[] tools)
    {
        var missing = tools.Where(t => !Cli.Has(t)).ToList();
        if (missing.Count > 0)
        {
            Skip = $"needs {string.Join(", ", missing)} (scripts/test.sh installs it as root)";
            return;
        }
        foreach (var fe in frontEnds.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (Wired.Missing(fe) is { } reason)
            {
                Skip = reason;
                return;
            }
        }
    }
}

/// <summary>What the default composition of this build can serve.</summary>
internal static class Wired
{
    public static bool Nbd => HostComponents.Default.CreateNbd is not null;

    public static bool Iscsi => HostComponents.Default.CreateIscsi is not null;

    /// <summary>Why <paramref name="frontEnd"/> (<c>nbd</c>, <c>iscsi</c> or <c>any</c>) cannot be tested, or null.</summary>
    public static string? Missing(string frontEnd) => frontEnd switch
    {
        "nbd" when !Nbd => "this build does not wire the NBD server yet (branch nbd not merged into main)",
        "iscsi" when !Iscsi => "this build does not wire the iSCSI target yet (branch iscsi not merged into main)",
        "any" when !Nbd && !Iscsi => "this build wires no front end yet (branches nbd and iscsi not merged into main)",
        _ => null,
    };

    /// <summary>Options that turn off what is not wired, so a server can start with what there is.</summary>
    public static (bool Iscsi, bool Nbd) Available => (Iscsi, Nbd);
}
