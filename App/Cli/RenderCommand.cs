using Ensemble.Jobs.Plans;

namespace Ensemble.App.Cli;

/// <summary>
/// <c>render &lt;show-json-file&gt; [--destroy] [--project &lt;path&gt;]</c>: prints a plan's check run exactly as Ensemble
/// would publish it (title, summary, text), so a plan can be previewed without a GitHub App.
/// Exit codes: 0 rendered, 1 the file is missing or not a plan Ensemble can read, 2 usage error.
/// </summary>
public static class RenderCommand
{
    public const string Usage = "usage: render <show-json-file> [--destroy] [--project <path>]";

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        string? file = null;
        string? project = null;
        var destroy = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--destroy":
                    destroy = true;
                    break;
                case "--project" when i + 1 < args.Length && !string.IsNullOrWhiteSpace(args[i + 1]):
                    project = args[++i];
                    break;
                case "--project":
                    await stderr.WriteLineAsync($"render: --project needs a path. {Usage}");
                    return 2;
                case "-h" or "--help":
                    await stdout.WriteLineAsync(Usage);
                    return 0;
                case var option when option.StartsWith("--", StringComparison.Ordinal):
                    await stderr.WriteLineAsync($"render: unknown option '{option}'. {Usage}");
                    return 2;
                case var path when file is null:
                    file = path;
                    break;
                default:
                    await stderr.WriteLineAsync($"render: one plan file at a time ('{file}' and '{args[i]}' given). {Usage}");
                    return 2;
            }
        }

        if (file is null)
        {
            await stderr.WriteLineAsync($"render: no plan file given. {Usage}");
            return 2;
        }

        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(Resolve(file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // FileNotFoundException and DirectoryNotFoundException are IOExceptions: one clear line either way.
            await stderr.WriteLineAsync($"render: cannot read '{file}': {e.Message}");
            return 1;
        }

        var parsed = PlanDocument.Parse(bytes);
        if (parsed.Plan is not { } plan)
        {
            await stderr.WriteLineAsync($"render: '{file}' is not a plan Ensemble can read: {parsed.Error}");
            return 1;
        }

        var output = PlanRenderer.Render(plan, new PlanRenderContext(project ?? DefaultProject(Resolve(file)), Destroy: destroy));
        await stdout.WriteLineAsync("=== title ===");
        await stdout.WriteLineAsync(output.Title);
        await stdout.WriteLineAsync("=== summary ===");
        await stdout.WriteLineAsync(output.Summary);
        await stdout.WriteLineAsync("=== text ===");
        await stdout.WriteLineAsync(output.Text ?? "(no text: Ensemble leaves the check run's text empty)");
        return 0;
    }

    /// <summary>
    /// <c>dotnet run --project App</c> runs in the project's directory (the Web SDK's RunWorkingDirectory), not where the
    /// user typed the command; the shell's <c>PWD</c> still says where that was, so a relative path is tried there too.
    /// </summary>
    private static string Resolve(string file)
    {
        if (Path.IsPathRooted(file) || File.Exists(file))
        {
            return file;
        }

        var shellDirectory = Environment.GetEnvironmentVariable("PWD");
        return !string.IsNullOrEmpty(shellDirectory) && File.Exists(Path.Combine(shellDirectory, file)) ? Path.Combine(shellDirectory, file) : file;
    }

    /// <summary>Plans usually sit in their project's directory: its name is the best guess at the project path.</summary>
    private static string DefaultProject(string file)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(file));
        var name = directory is null ? null : Path.GetFileName(directory);
        return string.IsNullOrEmpty(name) ? "." : name;
    }
}
