using StorSharp.Host.Configuration;
using StorSharp.Port;

namespace StorSharp.Host.Tests.Configuration;

public sealed class FaultConfigurationTests
{
    private static string WithFaults(string faults) => $"""
        targets:
          - iqn: iqn.2026-11.io.storsharp:disk0
        luns:
          - size: 64M
            faults:
        {faults}
        nbd: off
        """;

    [Fact]
    public void Every_fault_kind_and_field_binds()
    {
        var config = ConfigurationLoader.Parse(WithFaults("""
                  - kind: delay
                    operations: [read, write]
                    delay: 10ms..50ms
                  - kind: error
                    operations: read
                    senseKey: MEDIUM_ERROR
                    asc: 0x11
                    ascq: 0
                    count: 2
                  - kind: busy
                    rate: 25%
                  - kind: queueFull
                    count: 1
                  - kind: stall
                    operations: flush
                  - kind: commandTimeout
                    count: 1
        """), "storsharp.yaml");
        var rules = config.Luns[0].Faults;
        Assert.Equal(6, rules.Count);
        Assert.Equal(new FaultRule { Kind = FaultKind.Delay, Operations = FaultOperations.Read | FaultOperations.Write, Delay = TimeSpan.FromMilliseconds(10), DelayMax = TimeSpan.FromMilliseconds(50) }, rules[0]);
        Assert.Equal(new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Read, SenseKey = 3, Asc = 0x11, Ascq = 0, Count = 2 }, rules[1]);
        Assert.Equal(0.25, rules[2].Rate);
        Assert.Equal(FaultKind.QueueFull, rules[3].Kind);
        Assert.Equal(FaultOperations.Flush, rules[4].Operations);
        Assert.Equal(FaultKind.CommandTimeout, rules[5].Kind);
    }

    [Theory]
    [InlineData("      - kind: explode", 6, "luns[0].faults[0].kind: 'explode' is not a fault kind")]
    [InlineData("      - kind: busy\n        rate: 2", 7, "luns[0].faults[0].rate: is 2; it must be more than 0 and at most 1")]
    [InlineData("      - kind: busy\n        count: 0", 7, "luns[0].faults[0].count: is 0; it must be at least 1")]
    [InlineData("      - kind: delay\n        delay: soon", 7, "luns[0].faults[0].delay: ")]
    [InlineData("      - kind: error\n        senseKey: 0", 7, "luns[0].faults[0].senseKey: is 0; an error needs a sense key from 1 to 15")]
    [InlineData("      - kind: busy\n        operations: reads", 7, "luns[0].faults[0].operations: 'reads' is not an operation")]
    [InlineData("      - kind: busy\n        sense: 3", 7, "luns[0].faults[0].sense: unknown field 'sense'")]
    public void A_bad_rule_is_reported_with_its_line_and_field(string faults, int line, string message)
    {
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.Parse(WithFaults(faults), "storsharp.yaml"));
        var error = Assert.Single(e.Errors);
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"storsharp.yaml line {line}: {message}", error.ToString());
    }

    [Fact]
    public void Fault_rules_parse_from_json_as_the_management_api_receives_them()
    {
        var rules = ConfigurationLoader.ParseFaultRules("""[{"kind":"busy","count":3},{"kind":"stall","operations":"write"}]""", "request");
        Assert.Equal(2, rules.Count);
        Assert.Equal(3, rules[0].Count);
        Assert.Equal(FaultOperations.Write, rules[1].Operations);
        var e = Assert.Throws<ConfigurationException>(() => ConfigurationLoader.ParseFaultRules("""[{"kind":"busy","rate":-1}]""", "request"));
        Assert.Contains("faults[0].rate", e.Message);
    }
}
