using StorSharp.Cli;

return await StorSharpCommandLine.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
