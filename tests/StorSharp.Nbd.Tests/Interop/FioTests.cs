using StorSharp.Nbd.Tests.Support;
using StorSharp.Testing.Disk;

namespace StorSharp.Nbd.Tests.Interop;

/// <summary>fio's nbd engine (libnbd, one connection per job) with crc32c verification.</summary>
public class FioTests
{
    [Fact]
    public async Task RandomReadWriteWithVerifyTwoJobs()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(32 * 1024 * 1024)]);
        var r = await ExternalProcess.RunAsync("fio", [
            "--name=storsharp", "--ioengine=nbd", $"--uri={t.Uri()}",
            "--rw=randrw", "--bs=4k", "--iodepth=32", "--numjobs=2",
            "--size=8M", "--offset_increment=16M",
            "--verify=crc32c", "--verify_fatal=1", "--time_based=0",
            "--group_reporting", "--output-format=normal"], TimeSpan.FromSeconds(120));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("verify: bad", r.StdOut + r.StdErr);
        Assert.Contains("err= 0", r.StdOut);
    }

    [Fact]
    public async Task LargeSequentialWritesThenVerify()
    {
        await using var t = await TestNbdServer.StartAsync([new MemoryDisk(32 * 1024 * 1024)], maxTransfer: 256 * 1024);
        var r = await ExternalProcess.RunAsync("fio", [
            "--name=seq", "--ioengine=nbd", $"--uri={t.Uri()}",
            "--rw=write", "--bs=1M", "--iodepth=8", "--size=32M",
            "--verify=crc32c", "--verify_fatal=1", "--do_verify=1"], TimeSpan.FromSeconds(120));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("err= 0", r.StdOut);
    }
}
