using StorSharp.Cli;

// Socket completions run on the socket engine's (epoll) threads instead of hopping to the thread
// pool. The servers never block in a socket continuation (their I/O is async end to end), and for
// NBD the hop and the pool's spinning cost about two thirds of the server's CPU per 4 KiB request
// (docs/benchmarks.md). Must be set before the first socket is used; an explicit value wins.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null) Environment.SetEnvironmentVariable(InlineCompletions, "1");

// The shared array pool keeps 32 arrays of a size per core by default. A client with hundreds of
// large requests in flight (nbdcopy: 4 connections x 64 x 256 KiB) empties it, so every further
// request allocated a new large-object-heap array and the returns were dropped for the GC: about a
// third of the server's CPU per 256 KiB request (docs/benchmarks.md). 512 per core covers the
// per-connection in-flight budgets; arrays are kept only once used, and the pool trims them under
// memory pressure. Read when the pool is first used, so set before anything rents; an explicit
// value wins.
const string PoolArraysPerCore = "DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION";
if (Environment.GetEnvironmentVariable(PoolArraysPerCore) is null) Environment.SetEnvironmentVariable(PoolArraysPerCore, "512");

return await StorSharpCommandLine.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
