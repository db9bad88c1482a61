using StorSharp.Nbd.Tests.Support;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Interop;

/// <summary>nbdcopy and qemu-img moving whole disks in and out, checked by SHA-256.</summary>
public class CopyTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private const int Size = 32 * 1024 * 1024;

    [Fact]
    public async Task NbdCopyInAndOutPreservesData()
    {
        using var dir = new TempDir();
        string source = dir.RandomFile("in.raw", Size, seed: 1);
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(Size)], maxTransfer: 128 * 1024);
        var up = await ExternalProcess.RunAsync("nbdcopy", [source, t.Uri()], Limit);
        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.Equal(TempDir.Sha256(source), TempDir.Sha256(t.Disks[0].Bytes));

        string back = dir.File("out.raw");
        var down = await ExternalProcess.RunAsync("nbdcopy", [t.Uri(), back], Limit);
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Equal(TempDir.Sha256(source), TempDir.Sha256(back));
    }

    [Fact]
    public async Task NbdCopyOfASparseDiskKeepsItsHoles()
    {
        using var dir = new TempDir();
        var disk = new MemoryDisk(Size);
        new Random(2).NextBytes(disk.Bytes.AsSpan(4 * 1024 * 1024, 64 * 1024));
        Array.Fill(disk.Mapped, true, 8192, 128);
        await using var t = await TestNbdServer.StartAsync([disk]);
        string back = dir.File("sparse.raw");
        var down = await ExternalProcess.RunAsync("nbdcopy", [t.Uri(), back], Limit);
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Equal(TempDir.Sha256(disk.Bytes), TempDir.Sha256(back));
    }

    [Fact]
    public async Task QemuImgConvertAndCompare()
    {
        using var dir = new TempDir();
        string source = dir.RandomFile("in.raw", Size, seed: 3);
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(Size)]);
        var up = await ExternalProcess.RunAsync("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", source, t.Uri()], Limit);
        Assert.True(up.ExitCode == 0, up.ToString());
        var compare = await ExternalProcess.RunAsync("qemu-img", ["compare", "-f", "raw", "-F", "raw", source, t.Uri()], Limit);
        Assert.True(compare.ExitCode == 0, compare.ToString());

        string back = dir.File("out.qcow2");
        var down = await ExternalProcess.RunAsync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", t.Uri(), back], Limit);
        Assert.True(down.ExitCode == 0, down.ToString());
        var compareBack = await ExternalProcess.RunAsync("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", source, back], Limit);
        Assert.True(compareBack.ExitCode == 0, compareBack.ToString());

        // A difference must be seen: flip one byte behind qemu's back.
        t.Disks[0].Bytes[12345] ^= 0xFF;
        var differ = await ExternalProcess.RunAsync("qemu-img", ["compare", "-f", "raw", "-F", "raw", source, t.Uri()], Limit);
        Assert.True(differ.ExitCode == 1, differ.ToString());
    }
}
