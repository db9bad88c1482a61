using System.Security.Cryptography;

namespace StorSharp.Nbd.Tests.Support;

/// <summary>A scratch directory removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "storsharp-nbd-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string RandomFile(string name, int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        System.IO.File.WriteAllBytes(File(name), bytes);
        return File(name);
    }

    public static string Sha256(string file)
    {
        using var s = System.IO.File.OpenRead(file);
        return Convert.ToHexString(SHA256.HashData(s));
    }

    public static string Sha256(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data));

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
