using System.Diagnostics;
using System.Text.Json;

namespace StorSharp.Images.Tests.Mapped;

/// <summary>Runs the real qemu-img / qemu-io, the oracle for the VHD, VHDX and VMDK tests.</summary>
internal static class QemuTools
{
    public static bool Has(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

    /// <summary>Runs <paramref name="tool"/>; a non-zero exit fails the test with its output.</summary>
    public static string Run(string tool, params string[] args)
    {
        var (code, output) = TryRun(tool, args);
        if (code != 0) throw new Xunit.Sdk.XunitException($"{tool} {string.Join(' ', args)} exited {code}: {output}");
        return output;
    }

    public static (int ExitCode, string Output) TryRun(string tool, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(120_000)) { process.Kill(true); throw new TimeoutException($"{tool} did not finish"); }
        return (process.ExitCode, stdout + stderr.Result);
    }

    /// <summary>The virtual size qemu-img info reports.</summary>
    public static long VirtualSize(string path, string format)
    {
        using var json = JsonDocument.Parse(Run("qemu-img", "info", "-f", format, "--output=json", path));
        return json.RootElement.GetProperty("virtual-size").GetInt64();
    }

    /// <summary>Converts an image to raw with qemu-img and returns the raw bytes.</summary>
    public static byte[] ToRaw(string path, string format, string rawPath)
    {
        Run("qemu-img", "convert", "-f", format, "-O", "raw", path, rawPath);
        return File.ReadAllBytes(rawPath);
    }
}

/// <summary>A test that needs qemu-img and qemu-io; skipped, with the reason, when they are not installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class QemuFactAttribute : FactAttribute
{
    public QemuFactAttribute()
    {
        if (!QemuTools.Has("qemu-img") || !QemuTools.Has("qemu-io")) Skip = "needs qemu-img and qemu-io (qemu-utils; scripts/test.sh installs it)";
    }
}

/// <summary>A theory that needs qemu-img and qemu-io.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class QemuTheoryAttribute : TheoryAttribute
{
    public QemuTheoryAttribute()
    {
        if (!QemuTools.Has("qemu-img") || !QemuTools.Has("qemu-io")) Skip = "needs qemu-img and qemu-io (qemu-utils; scripts/test.sh installs it)";
    }
}

/// <summary>A fresh directory for one test's images, deleted afterwards.</summary>
public sealed class ImageDirectory : IDisposable
{
    public ImageDirectory() =>
        Path = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "storsharp-images-" + Guid.NewGuid().ToString("N"))).FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
