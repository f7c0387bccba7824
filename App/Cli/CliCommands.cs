namespace Ensemble.App.Cli;

/// <summary>
/// Local commands of the same binary (<c>dotnet run --project App -- &lt;command&gt; …</c>): they run without a GitHub
/// App, a database or a web server — for previews, debugging and other CI systems.
/// </summary>
public static class CliCommands
{
    /// <summary>Runs the command named by the first argument and returns its exit code, or null when it names none.</summary>
    public static async Task<int?> TryRunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0)
        {
            return null;
        }

        return args[0] switch
        {
            "render" => await RenderCommand.RunAsync(args[1..], stdout, stderr),
            "discover" => await DiscoverCommand.RunAsync(args[1..], stdout, stderr),
            _ => null,
        };
    }
}
