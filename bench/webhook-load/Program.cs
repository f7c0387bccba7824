using Ensemble.Bench.WebhookLoad;

// Two faces of one executable: the harness, and (with --bare) the 202-only baseline it starts as a child process.
if (args.Length > 0 && args[0] == "--bare")
{
    await BareEndpoint.RunAsync(args[1..]);
    return 0;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    await Console.Error.WriteLineAsync(BenchOptions.Usage);
    return 2;
}

return await Harness.RunAsync(options);
