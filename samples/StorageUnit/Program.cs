using System.Net;
using StorSharp.Port;
using StorSharp.Samples;

// Serves a 64 MiB DictionaryStorageUnit over NBD until Ctrl+C:
//   dotnet run --project samples/StorageUnit -- 10900      then: nbdinfo nbd://127.0.0.1:10900/unit
int port = args.Length > 0 ? int.Parse(args[0]) : 10900;
await using var storport = new StoragePort();
var adapter = await SampleHost.AddUnitAsync(storport, new DictionaryStorageUnit(blockCount: 131072));
await using var nbd = await SampleHost.ServeNbdAsync(adapter, new IPEndPoint(IPAddress.Loopback, port));
Console.WriteLine($"Serving nbd://127.0.0.1:{nbd.LocalEndpoint.Port}/unit; Ctrl+C stops.");
var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
await stop.Task;
