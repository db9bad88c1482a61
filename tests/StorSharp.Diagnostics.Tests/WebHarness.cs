using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StorSharp.Diagnostics.Web;
using StorSharp.Port;
using StorSharp.Testing;

namespace StorSharp.Diagnostics.Tests;

/// <summary>
/// A port on the real clock with two LUs of a <see cref="TestMiniport"/>, its diagnostics mounted on
/// a minimal web server on a free loopback port (what the management server will do), and an
/// optional load that keeps requests flowing.
/// </summary>
internal sealed class WebHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task _load = Task.CompletedTask;

    public StoragePort Port { get; } = new(new PortOptions { PerformanceSummaryInterval = TimeSpan.Zero });
    public TestMiniport Miniport { get; } = new([new ScsiAddress(0, 0, 0), new ScsiAddress(0, 0, 1)]);
    public Adapter Adapter { get; private set; } = null!;
    public StorSharpDiagnostics Diagnostics { get; private set; } = null!;
    public WebApplication App { get; private set; } = null!;
    public Uri BaseAddress { get; private set; } = null!;
    public long Submitted => Interlocked.Read(ref _submitted);
    private long _submitted;

    public static async Task<WebHarness> StartAsync()
    {
        var h = new WebHarness();
        h.Adapter = await h.Port.AddAdapterAsync(TestMiniport.Register(h.Miniport));
        h.Diagnostics = new StorSharpDiagnostics(h.Port);
        h.Diagnostics.Metrics.NameUnit(h.Adapter.Number, new ScsiAddress(0, 0, 0), "disk0");
        h.Diagnostics.Metrics.AddSessionSource("iscsi", () => 1);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        h.App = builder.Build();
        h.App.MapStorSharpDiagnostics(h.Diagnostics, liveInterval: TimeSpan.FromMilliseconds(250));
        await h.App.StartAsync();
        var address = h.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        h.BaseAddress = new Uri(address);
        return h;
    }

    /// <summary>Keeps reads and writes flowing to both LUs until disposed.</summary>
    public void StartLoad()
    {
        var token = _stop.Token;
        _load = Task.Run(async () =>
        {
            uint tag = 0;
            while (!token.IsCancellationRequested)
            {
                for (int i = 0; i < 50; i++)
                {
                    var srb = SrbPool.Shared.Rent();
                    var cdb = srb.InitCdb(10);
                    bool write = (tag & 1) == 1;
                    cdb[0] = write ? (byte)0x2A : (byte)0x28;
                    cdb[8] = 8;
                    srb.Address = new ScsiAddress(0, 0, (byte)(tag % 3 == 0 ? 1 : 0));
                    srb.Direction = write ? DataDirection.Out : DataDirection.In;
                    srb.Data.Rent(4096);
                    srb.RequestId = tag++;
                    Adapter.MarkReceived(srb);
                    await Adapter.ExecuteAsync(srb);
                    Adapter.MarkReplySent(srb);
                    srb.Release();
                    Interlocked.Increment(ref _submitted);
                }
                try { await Task.Delay(5, token); } catch (OperationCanceledException) { }
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _load;
        await App.StopAsync();
        await App.DisposeAsync();
        Diagnostics.Dispose();
        await Port.DisposeAsync();
    }
}
