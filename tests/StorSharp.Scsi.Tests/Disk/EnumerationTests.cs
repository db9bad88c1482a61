using StorSharp.Block;
using StorSharp.Port;

namespace StorSharp.Scsi.Tests;

public class EnumerationTests
{
    [Fact]
    public async Task Port_finds_exactly_the_defined_lus()
    {
        ScsiAddress[] defined = [new(0, 0, 0), new(0, 0, 3), new(0, 1, 1), new(1, 2, 0)];
        var disks = defined.Select(a => new ScsiDiskDefinition(a, new TestBlockDevice(16)) { ProductId = $"Disk {a}" }).ToArray();
        await using var h = await DiskHarness.CreateAsync(disks);
        Assert.Equal(defined.OrderBy(a => a.PathId).ThenBy(a => a.TargetId).ThenBy(a => a.Lun), h.Adapter.LogicalUnits.Select(u => u.Address));
        foreach (var lu in h.Adapter.LogicalUnits)
        {
            Assert.Equal(0, lu.Identity!.PeripheralDeviceType);
            Assert.Equal($"Disk {lu.Address}", lu.Identity.ProductId);
            Assert.Equal("StorShrp", lu.Identity.VendorId);
        }
        Assert.Empty(h.ContractViolations);
    }

    [Fact]
    public async Task Find_adapter_sizes_the_configuration_from_the_definitions()
    {
        var disks = new[]
        {
            new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), new TestBlockDevice(16)),
            new ScsiDiskDefinition(new ScsiAddress(2, 4, 7), new TestBlockDevice(16)),
        };
        await using var h = await DiskHarness.CreateAsync(new ScsiDiskMiniportOptions { BusType = StorageBusType.FileBackedVirtual, MaximumTransferLength = 1 << 20 }, disks);
        var c = h.Adapter.Configuration;
        Assert.Equal(3, c.NumberOfBuses);
        Assert.Equal(5, c.MaximumNumberOfTargets);
        Assert.Equal(8, c.MaximumNumberOfLogicalUnits);
        Assert.Equal(250, c.DefaultQueueDepth);
        Assert.Equal(1 << 20, c.MaximumTransferLength);
        Assert.Equal(StorageBusType.FileBackedVirtual, c.BusType);
        Assert.True(c.CachesData);
    }

    [Fact]
    public void Duplicate_addresses_are_refused_up_front()
    {
        var d = new TestBlockDevice(16);
        Assert.Throws<ArgumentException>(() => ScsiDiskMiniport.CreateRegistration(
            [new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), d), new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), d)]));
    }

    [Fact]
    public async Task Lu_reports_write_protect_from_capabilities_and_removable_from_definition()
    {
        var ro = new TestBlockDevice(16, capabilities: BlockDeviceCapabilities.ReadOnly);
        await using var h = await DiskHarness.CreateAsync(new ScsiDiskDefinition(new ScsiAddress(0, 0, 0), ro) { Removable = true });
        Assert.True(h.Adapter.LogicalUnits[0].Identity!.Removable);
        var r = await h.ExecAsync(Cdbs.Write10(0, 1), dataOut: new byte[512]);
        r.AssertCheckCondition(SenseCodes.WriteProtected);
        Assert.Equal(0, ro.WriteCount);
    }
}
