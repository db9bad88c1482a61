using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace StorSharp.Interop.Tests;

/// <summary>Finds and runs the built <c>storsharp</c> and the client tools, every wait bounded.</summary>
internal static class Cli
{
    /// <summary>
    /// The built <c>storsharp.dll</c>: <c>$STORSHARP_CLI</c>, else the CLI project's output of the
    /// configuration this test assembly was built in (Debug / Release), else the other one.
    /// </summary>
    public static string DllPath { get; } = FindDll();

    private static string FindDll()
    {
        if (Environment.GetEnvironmentVariable("STORSHARP_CLI") is { Length: > 0 } env && File.Exists(env)) return env;
        var root = RepoRoot();
        var here = AppContext.BaseDirectory.Replace('\\', '/');
        var configuration = here.Contains("/bin/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        foreach (var c in new[] { configuration, configuration == "Release" ? "Debug" : "Release" })
        {
            var path = Path.Combine(root, "src", "StorSharp.Cli", "bin", c, "net10.0", "storsharp.dll");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"storsharp.dll is not built under {root}/src/StorSharp.Cli/bin; build the solution first (or set STORSHARP_CLI)");
    }

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "StorSharp.slnx"))) return dir.FullName;
        throw new InvalidOperationException("StorSharp.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The dotnet host that runs the tests (the SDK sets DOTNET_HOST_PATH), else dotnet on PATH.</summary>
    public static string DotnetHost { get; } =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Starts <c>dotnet storsharp.dll ARGS</c> with redirected output (not yet read).</summary>
    public static Process Start(IEnumerable<string> args, bool redirectInput = false)
    {
        var info = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(DllPath);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return Process.Start(info) ?? throw new InvalidOperationException("could not start storsharp");
    }

    /// <summary>Runs storsharp to completion (bounded).</summary>
    public static Task<ToolResult> RunStorSharp(TimeSpan timeout, params string[] args) => Run(DotnetHost, [DllPath, .. args], timeout);

    /// <summary>Runs a program to completion; kills it (and fails) past <paramref name="timeout"/>.</summary>
    public static async Task<ToolResult> Run(string program, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            throw new TimeoutException($"{program} {string.Join(' ', info.ArgumentList)} did not finish within {timeout.TotalSeconds:0} s");
        }
        return new ToolResult(process.ExitCode, await stdout, await stderr, $"{Path.GetFileName(program)} {string.Join(' ', info.ArgumentList)}");
    }

    /// <summary>True when <paramref name="tool"/> is an executable on PATH.</summary>
    public static bool Has(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, tool)));

    /// <summary>A port that was free a moment ago (bind to 0, read, close): a separate process cannot be given port 0.</summary>
    public static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}

/// <summary>What a program did.</summary>
internal sealed record ToolResult(int ExitCode, string Output, string Error, string CommandLine)
{
    /// <summary>Everything, for assertion messages.</summary>
    public override string ToString() => $"$ {CommandLine}\nexit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
}
