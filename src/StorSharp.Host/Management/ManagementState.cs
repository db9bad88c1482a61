using System.Text.Json;

namespace StorSharp.Host.Management;

/// <summary>
/// What a running server writes to its management state file (mode 0600, readable by its user
/// only) so the CLI can reach it: the API's URL, the token, and the server's process id.
/// </summary>
/// <param name="Url">The API's base URL.</param>
/// <param name="Token">The bearer token.</param>
/// <param name="Pid">The server's process id.</param>
public sealed record ManagementState(string Url, string Token, int Pid)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Writes the state to <paramref name="path"/> with mode 0600 (created that way, never readable by others).</summary>
    public static void Write(string path, ManagementState state)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temporary, options))
        {
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(stream.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            JsonSerializer.Serialize(stream, state, Json);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads the state file; the message says what is wrong when it cannot.</summary>
    /// <exception cref="ManagementClientException">The file is missing or unreadable.</exception>
    public static ManagementState Read(string path)
    {
        try
        {
            var state = JsonSerializer.Deserialize<ManagementState>(File.ReadAllText(path), Json);
            if (state is null || string.IsNullOrEmpty(state.Url) || string.IsNullOrEmpty(state.Token)) throw new JsonException("missing url or token");
            return state;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ManagementClientException($"no running server found: {path} does not exist (is 'storsharp serve' running with the management API on? pass --state FILE or --url and --token)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new ManagementClientException($"cannot read the management state file {path}: {e.Message}");
        }
    }

    internal static void DeleteIfOurs(string path)
    {
        try
        {
            if (File.Exists(path) && Read(path).Pid == Environment.ProcessId) File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ManagementClientException)
        {
            // Best effort: a stale file names a process that is gone, and the CLI says so.
        }
    }
}
