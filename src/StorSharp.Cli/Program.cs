using StorSharp.Cli;

// Socket completions run on the socket engine's (epoll) threads instead of hopping to the thread
// pool. The servers never block in a socket continuation (their I/O is async end to end), and for
// NBD the hop and the pool's spinning cost about two thirds of the server's CPU per 4 KiB request
// (docs/benchmarks.md). Must be set before the first socket is used; an explicit value wins.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null) Environment.SetEnvironmentVariable(InlineCompletions, "1");

return await StorSharpCommandLine.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
