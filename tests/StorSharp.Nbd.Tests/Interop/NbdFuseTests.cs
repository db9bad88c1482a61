using StorSharp.Nbd.Tests.Support;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Interop;

/// <summary>nbdfuse exposes the export as a file through FUSE; dd writes and reads it.</summary>
public class NbdFuseTests
{
    /// <summary>Returns early (reported as passed, with the reason on the test output) when this machine has no usable FUSE.</summary>
    [Fact]
    public async Task DdThroughNbdFuse_SkippedWithoutDevFuse()
    {
        if (!File.Exists("/dev/fuse") || !ExternalProcess.Exists("nbdfuse") || !ExternalProcess.Exists("fusermount3"))
        {
            Console.WriteLine("skipped: /dev/fuse, nbdfuse or fusermount3 is missing on this machine.");
            return;
        }
        using var dir = new TempDir();
        string mount = dir.File("mnt");
        Directory.CreateDirectory(mount);
        string source = dir.RandomFile("in.raw", 4 * 1024 * 1024, seed: 9);
        var disk = new MemoryDisk(8 * 1024 * 1024);
        await using var t = await TestNbdServer.StartAsync([disk]);

        // nbdfuse runs until unmounted; start it in the background, bounded.
        var fuse = ExternalProcess.RunAsync("nbdfuse", [mount, t.Uri()], TimeSpan.FromSeconds(90));
        string file = Path.Combine(mount, "nbd");
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (!File.Exists(file))
            {
                if (fuse.IsCompleted)
                {
                    var early = await fuse;
                    Console.WriteLine($"skipped: nbdfuse could not mount here: {early}");
                    return;
                }
                if (DateTime.UtcNow > deadline) throw new TimeoutException("nbdfuse did not mount within 20 s.");
                await Task.Delay(100);
            }
            var dd = await ExternalProcess.RunAsync("dd", [$"if={source}", $"of={file}", "bs=1M", "conv=notrunc,fsync", "status=none"], TimeSpan.FromSeconds(60));
            Assert.True(dd.ExitCode == 0, dd.ToString());
            Assert.Equal(TempDir.Sha256(source), TempDir.Sha256(disk.Bytes.AsSpan(0, 4 * 1024 * 1024)));
            string back = dir.File("out.raw");
            var ddBack = await ExternalProcess.RunAsync("dd", [$"if={file}", $"of={back}", "bs=1M", "count=4", "status=none"], TimeSpan.FromSeconds(60));
            Assert.True(ddBack.ExitCode == 0, ddBack.ToString());
            Assert.Equal(TempDir.Sha256(source), TempDir.Sha256(back));
        }
        finally
        {
            await ExternalProcess.RunAsync("fusermount3", ["-u", mount], TimeSpan.FromSeconds(20));
            try { await fuse; } catch (TimeoutException) { }
        }
    }
}
