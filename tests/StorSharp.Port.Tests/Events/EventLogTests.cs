using StorSharp.Port;

namespace StorSharp.Port.Tests.Events;

public class EventLogTests
{
    [Fact]
    public void Events_are_kept_in_memory_and_appended_as_json_lines_that_read_back()
    {
        var path = Path.Combine(Path.GetTempPath(), $"storsharp-events-{Guid.NewGuid():N}", "events.jsonl");
        try
        {
            using (var log = new EventLog(path, capacity: 2))
            {
                for (int i = 0; i < 3; i++)
                    log.Write(new StorageEvent(129 + i, DateTimeOffset.UnixEpoch.AddSeconds(i), EventLevel.Warning, "ScsiDisk", @"\Device\RaidPort0", $"event {i}",
                        new Dictionary<string, string> { ["Address"] = "0:0:0" }));
                Assert.Equal([130, 131], log.Snapshot().Select(e => e.Id)); // capacity 2 keeps the newest
                Assert.Equal(3, log.TotalCount);
            }
            File.AppendAllText(path, "{\"torn\":");
            var read = EventLog.ReadFile(path);
            Assert.Equal([129, 130, 131], read.Select(e => e.Id));
            Assert.Equal("0:0:0", read[0].Data["Address"]);
            Assert.Equal(EventLevel.Warning, read[0].Level);
            Assert.Contains("\"level\":\"Warning\"", File.ReadAllLines(path)[0]);
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, true); }
    }
}
