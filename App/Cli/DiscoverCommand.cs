namespace Ensemble.App.Cli;

/// <summary><c>discover --repo &lt;path&gt; --base &lt;rev&gt; [--head &lt;rev&gt;] [--json]</c>: the affected projects and why.</summary>
public static class DiscoverCommand
{
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        _ = args;
        _ = stdout;
        stderr.WriteLine("discover: not implemented yet.");
        return Task.FromResult(2);
    }
}
