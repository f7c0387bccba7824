namespace Ensemble.Jobs.Jobs;

/// <summary>
/// One run's directory under <c>{WorkDirectory}/workspaces/</c>: the checkout (<see cref="Source"/>), terraform's
/// HOME and TMPDIR, and the run's own files (<see cref="Output"/>). Created empty, deleted when disposed; every attempt
/// gets its own name, so a leftover of a killed worker is never reused.
/// </summary>
internal sealed class RunWorkspace : IDisposable
{
    private RunWorkspace(string root)
    {
        Root = root;
        Source = Path.Combine(root, "src");
        Home = Path.Combine(root, "home");
        Temp = Path.Combine(root, "tmp");
        Output = Path.Combine(root, "out");
    }

    public string Root { get; }

    /// <summary>Where the commit is checked out (created by the checkout).</summary>
    public string Source { get; }

    public string Home { get; }

    public string Temp { get; }

    /// <summary>The plan file, its JSON: what the run writes for Ensemble, outside the checkout.</summary>
    public string Output { get; }

    /// <summary>A fresh, empty workspace named <paramref name="name"/> (what an earlier attempt left there is removed).</summary>
    public static RunWorkspace Create(string workDirectory, string name)
    {
        var workspace = new RunWorkspace(Path.Combine(Path.GetFullPath(workDirectory), "workspaces", name));
        RunLog.TryDelete(workspace.Root);
        Directory.CreateDirectory(workspace.Home);
        Directory.CreateDirectory(workspace.Temp);
        Directory.CreateDirectory(workspace.Output);
        return workspace;
    }

    /// <summary>The project's directory in the checkout (<c>.</c> is the root).</summary>
    public string ProjectDirectory(string projectPath) => projectPath == "." ? Source : Path.Combine(Source, projectPath);

    public void Dispose() => RunLog.TryDelete(Root);
}
