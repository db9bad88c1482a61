using StorSharp.Diagnostics.Tracing;
using StorSharp.Host.Configuration;

namespace StorSharp.Host;

/// <summary><c>storsharp serve --trace FILE [--trace-max-size SIZE]</c>: records a trace of the port while serving.</summary>
internal static class ServeTracing
{
    /// <summary>Checks the trace options (before anything starts); null when no trace was asked for.</summary>
    /// <exception cref="ConfigurationException">The size is not a size, or the file cannot be created.</exception>
    public static TraceRecorderOptions? ResolveOptions(ServeOptions options)
    {
        var errors = new List<ConfigurationError>();
        void Fail(string option, string message) => errors.Add(new ConfigurationError("command line", 0, 0, option, message));
        if (options.Trace is null)
        {
            if (options.TraceMaxSize is not null) Fail("--trace-max-size", "needs --trace FILE");
            if (errors.Count > 0) throw new ConfigurationException(errors);
            return null;
        }
        var result = new TraceRecorderOptions();
        if (options.TraceMaxSize is { } text)
        {
            if (!SizeParser.TryParse(text, out var bytes, out var problem)) Fail("--trace-max-size", problem);
            else if (bytes < 1 << 20) Fail("--trace-max-size", $"{text} is too small for a trace; use at least 1M");
            else result = result with { MaxBytes = bytes };
        }
        if (options.NbdStdio) Fail("--trace", "cannot be combined with --nbd-stdio");
        if (errors.Count == 0)
        {
            try
            {
                // Create it now, so a bad path is a clear usage error before anything listens.
                using var probe = new FileStream(options.Trace, FileMode.Create, FileAccess.Write, FileShare.Read);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                Fail("--trace", $"cannot create {options.Trace}: {e.Message}");
            }
        }
        if (errors.Count > 0) throw new ConfigurationException(errors);
        return result;
    }

    /// <summary>Starts recording <paramref name="host"/>'s port into <paramref name="path"/>, naming each LU after its target and LUN number.</summary>
    public static TraceRecorder? Start(StorSharpHost host, string? path, TraceRecorderOptions? options, TextWriter error)
    {
        if (path is null || options is null) return null;
        var recorder = new TraceRecorder(host.Port, path, options);
        foreach (var lun in host.Luns)
            if (lun.Adapter is { } adapter)
                recorder.NameUnit(adapter.Number, lun.Address, $"{lun.Settings.Target} LUN {lun.Settings.Number}");
        error.WriteLine($"storsharp: recording a trace to {path} (at most {SizeParser.Format(options.MaxBytes)}); read it with: storsharp trace report {path}");
        return recorder;
    }
}
