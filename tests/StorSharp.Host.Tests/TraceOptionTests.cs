using StorSharp.Host.Configuration;

namespace StorSharp.Host.Tests;

/// <summary><c>serve --trace FILE [--trace-max-size SIZE]</c>: checked before anything starts.</summary>
public sealed class TraceOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("storsharp-traceopt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void No_trace_means_no_recorder()
    {
        Assert.Null(ServeTracing.ResolveOptions(new ServeOptions()));
    }

    [Fact]
    public void A_trace_file_is_created_and_the_size_limit_parsed()
    {
        string path = Path.Combine(_dir, "run.sstrace");
        var options = ServeTracing.ResolveOptions(new ServeOptions { Trace = path, TraceMaxSize = "64M" });
        Assert.NotNull(options);
        Assert.Equal(64L << 20, options.MaxBytes);
        Assert.True(File.Exists(path));
        Assert.Equal(512L << 20, ServeTracing.ResolveOptions(new ServeOptions { Trace = path })!.MaxBytes);
    }

    [Theory]
    [InlineData(null, "10M", "--trace-max-size: needs --trace FILE")]
    [InlineData("run.sstrace", "lots", "--trace-max-size")]
    [InlineData("run.sstrace", "4K", "too small for a trace; use at least 1M")]
    [InlineData("missing-folder/run.sstrace", null, "--trace: cannot create")]
    public void Bad_trace_options_name_the_option(string? file, string? size, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() =>
            ServeTracing.ResolveOptions(new ServeOptions { Trace = file is null ? null : Path.Combine(_dir, file), TraceMaxSize = size }));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_trace_cannot_go_with_nbd_stdio()
    {
        var e = Assert.Throws<ConfigurationException>(() =>
            ServeTracing.ResolveOptions(new ServeOptions { Trace = Path.Combine(_dir, "x.sstrace"), NbdStdio = true }));
        Assert.Contains("--trace: cannot be combined with --nbd-stdio", e.Message);
    }
}
