using System.Net;
using StorSharp.Host.Configuration;
using StorSharp.Port;

namespace StorSharp.Host.Tests;

public sealed class StorSharpHostTests
{
    private static StorSharpConfiguration TwoTargets(int iscsiPort = 0, int nbdPort = 0) => ConfigurationLoader.Parse($$"""
        eventLog: off
        iscsi: { portals: [ "127.0.0.1:{{iscsiPort}}" ] }
        nbd:
          listen: 127.0.0.1:{{nbdPort}}
          exports:
            - { name: a, target: iqn.2026-11.io.storsharp:a, lun: 0 }
            - { name: b9, target: iqn.2026-11.io.storsharp:b, lun: 9 }
        targets:
          - iqn: iqn.2026-11.io.storsharp:a
          - iqn: iqn.2026-11.io.storsharp:b
        luns:
          - { target: iqn.2026-11.io.storsharp:a, number: 0, size: 1M }
          - { target: iqn.2026-11.io.storsharp:b, number: 300, size: 1M }
          - { target: iqn.2026-11.io.storsharp:b, number: 9, size: 2M, blockSize: 4096 }
        """, "two.yaml");

    [Fact]
    public async Task Composes_addresses_by_target_index_and_position()
    {
        var fakes = new FakeComponents();
        await using (var host = await StorSharpHost.StartAsync(TwoTargets(), fakes.Build()))
        {
            Assert.Equal([new ScsiAddress(0, 0, 0), new ScsiAddress(0, 1, 0), new ScsiAddress(0, 1, 1)], host.Luns.Select(l => l.Address));
            Assert.Equal(300, host.Luns[1].Settings.Number);
            Assert.Equal(4096, host.Luns[2].Device.Geometry.LogicalBlockSize);
            Assert.Equal(2, fakes.Iscsi!.Targets.Count);
            Assert.Equal(2, fakes.Iscsi.Targets[1].Luns.Count);
            Assert.Equal(host.Luns[2], fakes.Nbd!.Exports[1].Lun);
            Assert.NotEqual(0, host.IscsiEndpoints[0].Port);
            Assert.NotEqual(0, host.NbdEndpoint!.Port);
            Assert.All(fakes.Nbd.Exports, e => Assert.Same(host.Adapters.Single(), e.Lun.Adapter));
        }
        // Stops in reverse: listeners, then the adapter, then the block devices (flushed, then closed).
        var j = fakes.Journal;
        Assert.True(j.IndexOf("stop NBD") < j.IndexOf("stop iSCSI"), string.Join(", ", j));
        Assert.True(j.IndexOf("stop iSCSI") < j.IndexOf("stop adapter"), string.Join(", ", j));
        Assert.True(j.IndexOf("stop adapter") < j.IndexOf("flush 0"), string.Join(", ", j));
        Assert.True(j.IndexOf("flush 0") < j.IndexOf("close 0"), string.Join(", ", j));
        Assert.Contains("close 300", j);
    }

    [Fact]
    public async Task Port_in_use_is_a_start_failure_naming_the_address_and_nothing_is_left_running()
    {
        using var busy = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var fakes = new FakeComponents();
        var e = await Assert.ThrowsAsync<HostStartException>(() => StorSharpHost.StartAsync(TwoTargets(nbdPort: port), fakes.Build()));
        Assert.Contains($"NBD cannot listen on 127.0.0.1:{port}", e.Message);
        Assert.Contains("already in use", e.Message);
        Assert.Contains("stop iSCSI", fakes.Journal);
        Assert.Contains("stop adapter", fakes.Journal);
        Assert.Contains("close 0", fakes.Journal);
    }

    [Fact]
    public async Task Backend_failure_names_the_lun()
    {
        var fakes = new FakeComponents();
        var components = fakes.Build() with { OpenBlockDevice = (_, _) => throw new IOException("disk on fire") };
        var e = await Assert.ThrowsAsync<HostStartException>(() => StorSharpHost.StartAsync(TwoTargets(), components));
        Assert.Contains("LUN 0 of iqn.2026-11.io.storsharp:a", e.Message);
        Assert.Contains("disk on fire", e.Message);
    }

    private static StorSharpConfiguration OneImage(string path, string format = "auto") => ConfigurationLoader.Parse($$"""
        eventLog: off
        iscsi: off
        nbd: off
        targets:
          - iqn: iqn.2026-11.io.storsharp:img
        luns:
          - { backend: image, path: "{{path}}", format: {{format}} }
        """, "image.yaml");

    [Fact]
    public async Task Image_backend_serves_a_raw_image_through_the_disk_adapter()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "disk.raw");
        var data = new byte[1 << 20];
        Random.Shared.NextBytes(data);
        await File.WriteAllBytesAsync(path, data);
        await using var host = await StorSharpHost.StartAsync(OneImage(path), HostComponents.Default);
        var lun = Assert.Single(host.Luns);
        Assert.Equal(data.Length / 512, lun.Device.Geometry.BlockCount);
        Assert.Equal(StorageBusType.FileBackedVirtual, Assert.Single(host.Adapters).Configuration.BusType);
        var back = new byte[4096];
        await lun.Device.ReadAsync(100, back);
        Assert.Equal(data.AsSpan(100 * 512, 4096).ToArray(), back);
    }

    [Fact]
    public async Task Dvd_device_serves_an_iso_through_its_own_optical_adapter()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "disc.iso");
        var data = new byte[64 * 2048];
        Random.Shared.NextBytes(data);
        await File.WriteAllBytesAsync(path, data);
        var config = ConfigurationLoader.Parse($$"""
            eventLog: off
            iscsi: off
            nbd: off
            targets:
              - iqn: iqn.2026-11.io.storsharp:mixed
            luns:
              - { number: 0, size: 1M }
              - { number: 1, device: dvd, backend: file, path: "{{path}}" }
            """, "dvd.yaml");
        Assert.True(config.Luns[1].ReadOnly);
        await using var host = await StorSharpHost.StartAsync(config, HostComponents.Default);
        Assert.Equal(2, host.Adapters.Count); // one adapter per device kind
        var dvd = host.Luns.Single(l => l.Settings.Device == LunDevice.Dvd);
        var srb = SrbPool.Shared.Rent();
        srb.SetCdb([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // READ CAPACITY(10)
        srb.Address = dvd.Address;
        srb.Direction = DataDirection.In;
        srb.Data.Rent(8);
        srb.DataTransferLength = 8;
        await dvd.Adapter.ExecuteAsync(srb);
        var capacity = new byte[8];
        srb.Data.CopyTo(0, capacity);
        srb.Release();
        Assert.Equal(new byte[] { 0, 0, 0, 63, 0, 0, 0x08, 0 }, capacity); // last LBA 63, 2048-byte sectors
    }

    [Fact]
    public async Task Nvme_device_composes_its_own_adapter_with_the_nvme_bus_type()
    {
        var config = ConfigurationLoader.Parse("""
            eventLog: off
            iscsi: off
            nbd: off
            targets:
              - iqn: iqn.2026-11.io.storsharp:mixed
            luns:
              - { number: 0, size: 1M }
              - { number: 1, device: nvme, size: 2M, blockSize: 4096 }
            """, "nvme.yaml");
        Assert.Equal(LunDevice.Nvme, config.Luns[1].Device);
        Assert.Equal("StorSharp NVMe", config.Luns[1].ProductId);
        await using var host = await StorSharpHost.StartAsync(config, HostComponents.Default);
        Assert.Equal(2, host.Adapters.Count); // one adapter per device kind
        var nvme = host.Luns.Single(l => l.Settings.Device == LunDevice.Nvme);
        Assert.Equal(StorageBusType.Nvme, nvme.Adapter.Configuration.BusType);
        Assert.IsType<StorSharp.Nvme.NvmeMiniport>(nvme.Adapter.Miniport);
        var srb = SrbPool.Shared.Rent();
        srb.SetCdb([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // READ CAPACITY(10)
        srb.Address = nvme.Address;
        srb.Direction = DataDirection.In;
        srb.Data.Rent(8);
        srb.DataTransferLength = 8;
        await nvme.Adapter.ExecuteAsync(srb);
        var capacity = new byte[8];
        srb.Data.CopyTo(0, capacity);
        srb.Release();
        Assert.Equal(new byte[] { 0, 0, 0x01, 0xFF, 0, 0, 0x10, 0 }, capacity); // last LBA 511, 4096-byte blocks
        Assert.Contains("NVMe namespace, sparse RAM disk, 4096-byte blocks", ServeRunner.DescribeHowToConnect(host));
    }

    [Fact]
    public async Task Image_that_cannot_open_names_the_lun_and_the_file()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "odd.raw");
        await File.WriteAllBytesAsync(path, new byte[1000]);
        var e = await Assert.ThrowsAsync<HostStartException>(() => StorSharpHost.StartAsync(OneImage(path, "raw"), HostComponents.Default));
        Assert.Contains($"LUN 0 of iqn.2026-11.io.storsharp:img: cannot open the image {path}", e.Message);
        Assert.Contains("not a whole number of 512-byte blocks", e.Message);
    }

    [Fact]
    public async Task Event_log_file_is_created()
    {
        using var dir = new TempDir();
        var config = TwoTargets() with { EventLog = Path.Combine(dir.Path, "sub", "events.jsonl") };
        await using (var host = await StorSharpHost.StartAsync(config, new FakeComponents().Build()))
        {
            host.Port.Events.Write(new StorageEvent(StorageEventIds.LinkDown, DateTimeOffset.UtcNow, EventLevel.Warning, "Fake", @"\Device\RaidPort0", "Link down", new Dictionary<string, string>()));
        }
        var events = EventLog.ReadFile(config.EventLog!);
        Assert.Contains(events, e => e.Id == StorageEventIds.LinkDown);
    }

    [Fact]
    public async Task Banner_gives_the_client_commands()
    {
        var config = StorSharpConfiguration.CreateDefault() with
        {
            EventLog = null,
            Iscsi = new IscsiSettings { Portals = [new IPEndPoint(IPAddress.Loopback, 0)] },
            Nbd = StorSharpConfiguration.CreateDefault().Nbd with { Listen = new IPEndPoint(IPAddress.Loopback, 0) },
        };
        await using var host = await StorSharpHost.StartAsync(config, new FakeComponents().Build());
        var text = ServeRunner.DescribeHowToConnect(host);
        var i = host.IscsiEndpoints[0].Port;
        var n = host.NbdEndpoint!.Port;
        Assert.Contains($"iscsi-ls -s iscsi://127.0.0.1:{i}", text);
        Assert.Contains($"iscsi-readcapacity16 iscsi://127.0.0.1:{i}/iqn.2026-11.io.storsharp:disk0/0", text);
        Assert.Contains($"qemu-img info iscsi://127.0.0.1:{i}/iqn.2026-11.io.storsharp:disk0/0", text);
        Assert.Contains($"nbdinfo nbd://127.0.0.1:{n}/disk0", text);
        Assert.Contains($"qemu-img info nbd://127.0.0.1:{n}/disk0", text);
        Assert.Contains("1 GiB sparse RAM disk, 512-byte blocks", text);
    }
}
