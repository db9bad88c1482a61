namespace StorSharp.Host.Tests;

/// <summary>A temporary folder removed at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "storsharp-tests-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name, string? text = null)
    {
        var path = System.IO.Path.Combine(Path, name);
        if (text is not null) System.IO.File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>Finds files of the repository (README, examples) from the test's output folder.</summary>
internal static class Repo
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "StorSharp.slnx"))) return dir.FullName;
        throw new InvalidOperationException("StorSharp.slnx not found above " + AppContext.BaseDirectory);
    }

    public static string PathOf(string relative) => System.IO.Path.Combine(Root, relative);
}
