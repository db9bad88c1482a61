namespace StorSharp.Block.Tests;

/// <summary>A fact about Linux-only behaviour (hole punching, SEEK_HOLE); reported as skipped elsewhere.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
            Skip = "Linux-only: fallocate and SEEK_DATA/SEEK_HOLE.";
    }
}
