namespace StorSharp.Iscsi.Tests;

/// <summary>
/// Runs libiscsi's iscsi-test-cu against the target with the test RAM disk when
/// ISCSI_TEST_CU names the tests (for example <c>ISCSI_TEST_CU=iSCSI</c>); otherwise does nothing.
/// The summary is written to the test output directory as iscsi-test-cu.log.
/// </summary>
public sealed class ConformanceRun
{
    [Fact]
    public async Task IscsiTestCu_iscsi_family()
    {
        string? tests = Environment.GetEnvironmentVariable("ISCSI_TEST_CU");
        if (string.IsNullOrEmpty(tests) || !ExternalTool.Exists("iscsi-test-cu")) return;
        await using var t = await TestTarget.StartAsync(blocks: 32768);
        var (code, output) = await ExternalTool.RunAsync("iscsi-test-cu",
            $"-t {tests} -d -i iqn.2026-11.org.storsharp:a -I iqn.2026-11.org.storsharp:b {t.Url(0)}", 900);
        string log;
        lock (t.Log) log = string.Join("\n", t.Log);
        await File.WriteAllTextAsync(Path.Combine(AppContext.BaseDirectory, "iscsi-test-cu.log"), output + "\n--- target log ---\n" + log);
        Assert.True(code >= 0, output);
    }
}
