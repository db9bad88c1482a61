using StorSharp.Nbd.Tests.Support;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Interop;

/// <summary>qemu-io's commands: write with pattern (FUA by default), read with verification, zero, discard, flush.</summary>
public class QemuIoTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task WriteReadZeroDiscardFlush()
    {
        var disk = new MemoryDisk(8 * 1024 * 1024);
        await using var t = await TestNbdServer.StartAsync([disk]);
        var r = await ExternalProcess.RunAsync("qemu-io", ["-f", "raw", t.Uri(),
            "-c", "write -P 0xab 0 1M",
            "-c", "read -P 0xab 0 1M",
            "-c", "write -P 0xcd 1M 1M",
            "-c", "write -z 1M 512k",
            "-c", "read -P 0 1M 512k",
            "-c", "read -P 0xcd 1536k 512k",
            "-c", "write -P 0x11 3M 1M",
            "-c", "discard 3M 1M",
            "-c", "read -P 0 3M 1M",
            "-c", "write -P 0x22 5000 3000",
            "-c", "read -P 0x22 5000 3000",
            "-c", "flush"], Limit);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("fail", r.StdOut + r.StdErr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("error", r.StdOut + r.StdErr, StringComparison.OrdinalIgnoreCase);
        Assert.True(disk.Bytes.AsSpan(0, 5000).IndexOfAnyExcept((byte)0xab) < 0);
        Assert.True(disk.Bytes.AsSpan(5000, 3000).IndexOfAnyExcept((byte)0x22) < 0);
        Assert.True(disk.Bytes.AsSpan(8000, 1024 * 1024 - 8000).IndexOfAnyExcept((byte)0xab) < 0);
        Assert.True(disk.Bytes.AsSpan(1024 * 1024, 512 * 1024).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(disk.Bytes.AsSpan(3 * 1024 * 1024, 1024 * 1024).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(disk.FuaWrites > 0, "qemu-io writes with FUA by default");
        Assert.True(disk.Flushes > 0);
        Assert.True(disk.Unmaps > 0 || disk.WriteSames > 0);
    }

    [Fact]
    public async Task WritesToAReadOnlyExportFail()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(1024 * 1024)], exportFor: (_, e) => e with { ReadOnly = true });
        var r = await ExternalProcess.RunAsync("qemu-io", ["-f", "raw", "-r", t.Uri(), "-c", "read 0 64k"], Limit);
        Assert.True(r.ExitCode == 0, r.ToString());
        var w = await ExternalProcess.RunAsync("qemu-io", ["-f", "raw", t.Uri(), "-c", "write -P 1 0 64k"], Limit);
        // qemu refuses to open a read-only export for writing, as it does with nbdkit -r.
        Assert.True(w.ExitCode != 0, w.ToString());
        Assert.Contains("Permission denied", w.StdOut + w.StdErr);
        Assert.Equal(0, t.Disks[0].Bytes[0]);
    }
}
