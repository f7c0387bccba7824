namespace Ensemble.Tests.TerraformSim;

/// <summary>Locates the built terraform-sim executable, for use as <c>Terraform:Binary</c> in tests.</summary>
public static class SimBinary
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static readonly Lazy<string> Root = new(FindSolutionRoot);
    private static readonly Lazy<string> Executable = new(Locate);

    /// <summary>Absolute path of the apphost built with the same configuration as the test assembly.</summary>
    public static string Path => Executable.Value;

    /// <summary>The directory holding Ensemble.GitHubApp.sln.</summary>
    public static string SolutionRoot => Root.Value;

    private static string FindSolutionRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Ensemble.GitHubApp.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Cannot find Ensemble.GitHubApp.sln above {AppContext.BaseDirectory}; the tests must run from a build inside the repository.");
    }

    private static string Locate()
    {
        var name = OperatingSystem.IsWindows() ? "terraform-sim.exe" : "terraform-sim";
        var path = System.IO.Path.Combine(SolutionRoot, "tools", "TerraformSim", "bin", Configuration, "net10.0", name);
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"terraform-sim not found at {path}. Build tools/TerraformSim/TerraformSim.csproj in {Configuration} (App.Tests references it, so building the tests builds it).");
    }
}
