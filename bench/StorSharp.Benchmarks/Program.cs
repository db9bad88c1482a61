using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/StorSharp.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(StorSharp.Benchmarks.PortBenchmarks).Assembly).Run(args);
