namespace Ensemble.App.Cli;

/// <summary><c>render &lt;show-json-file&gt;</c>: prints a plan's check run exactly as Ensemble would publish it.</summary>
public static class RenderCommand
{
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        _ = args;
        _ = stdout;
        stderr.WriteLine("render: not implemented yet.");
        return Task.FromResult(2);
    }
}
