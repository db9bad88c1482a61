using System.Diagnostics;

namespace StorSharp.Images.Tests.Qcow2;

/// <summary>A test that needs qemu-img and qemu-io (Debian qemu-utils); skipped, with the reason, only when they are missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class QemuFactAttribute : FactAttribute
{
    public QemuFactAttribute()
    {
        if (!QemuTools.Installed) Skip = "needs qemu-img and qemu-io (apt-get install qemu-utils)";
    }
}

/// <summary>Same for theories.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class QemuTheoryAttribute : TheoryAttribute
{
    public QemuTheoryAttribute()
    {
        if (!QemuTools.Installed) Skip = "needs qemu-img and qemu-io (apt-get install qemu-utils)";
    }
}

/// <summary>Runs the real qemu tools as oracles: they make the images and judge ours.</summary>
internal static class QemuTools
{
    public static bool Installed { get; } = Has("qemu-img") && Has("qemu-io");

    private static bool Has(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, tool)));

    /// <summary>Runs a program (bounded to 120 s) and returns exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} timed out");
        }
        return (process.ExitCode, $"$ {program} {string.Join(' ', args)}\n{await stdout}{await stderr}");
    }

    /// <summary>Runs a program that must succeed.</summary>
    public static async Task<string> Ok(string program, params string[] args)
    {
        var (code, output) = await Run(program, args);
        Assert.True(code == 0, $"exit {code}: {output}");
        return output;
    }

    /// <summary>qemu-io commands against a file of the given format, each as its own -c.</summary>
    public static Task<string> Io(string path, string format, params string[] commands) =>
        Ok("qemu-io", ["-f", format, .. commands.SelectMany(c => new[] { "-c", c }), path]);

    /// <summary>What qemu reads from the image: <c>qemu-img convert -O raw</c>.</summary>
    public static async Task<byte[]> RawContents(string path, string directory)
    {
        string raw = Path.Combine(directory, Guid.NewGuid().ToString("N") + ".raw");
        await Ok("qemu-img", "convert", "-O", "raw", path, raw);
        byte[] bytes = await File.ReadAllBytesAsync(raw);
        File.Delete(raw);
        return bytes;
    }

    /// <summary><c>qemu-img check</c> must find no errors and no leaks.</summary>
    public static async Task Check(string path)
    {
        var (code, output) = await Run("qemu-img", "check", path);
        Assert.True(code == 0, $"qemu-img check exit {code} (1: check failed, 2: corruption, 3: leaks):\n{output}");
    }
}

/// <summary>A fresh temporary directory, deleted on dispose.</summary>
public sealed class ImageDirectory : IDisposable
{
    public ImageDirectory() =>
        Path = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "storsharp-qcow2-" + Guid.NewGuid().ToString("N"))).FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
