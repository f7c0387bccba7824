using Ensemble.App.GitHub;
using Ensemble.Jobs.Jobs;
using Ensemble.Jobs.Terraform;

namespace Ensemble.App.Hosting;

/// <summary>Thrown when the configuration cannot work; Program prints the message as one line per problem and exits 1.</summary>
public sealed class EnsembleConfigurationException(IReadOnlyList<string> problems)
    : Exception("Ensemble cannot start:\n" + string.Join("\n", problems.Select(p => "  " + p)))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>Checks the whole configuration contract (DESIGN.md) before anything starts.</summary>
public static class EnsembleConfiguration
{
    public static IReadOnlyList<string> Validate(IConfiguration configuration)
    {
        var problems = new List<string>();
        var github = configuration.GetSection(GitHubOptions.SectionName).Get<GitHubOptions>() ?? new GitHubOptions();
        problems.AddRange(github.Validate());

        var ensemble = configuration.GetSection(EnsembleOptions.Section).Get<EnsembleOptions>() ?? new EnsembleOptions();
        if (ensemble.Role is not ("all" or "web" or "worker"))
        {
            problems.Add($"Ensemble:Role is '{ensemble.Role}': use all, web or worker.");
        }

        var database = configuration["Database:ConnectionString"];
        if (string.IsNullOrWhiteSpace(database) && ensemble.Role != "all")
        {
            problems.Add($"Ensemble:Role '{ensemble.Role}' needs Database:ConnectionString: web and worker processes share work through PostgreSQL; the embedded default serves one process (Role all).");
        }

        if (ensemble.Workers < 1)
        {
            problems.Add("Ensemble:Workers must be at least 1.");
        }

        if (!string.IsNullOrEmpty(ensemble.PublicUrl) && !Uri.TryCreate(ensemble.PublicUrl, UriKind.Absolute, out _))
        {
            problems.Add($"Ensemble:PublicUrl '{ensemble.PublicUrl}' is not an absolute URL.");
        }

        var terraform = configuration.GetSection(TerraformOptions.Section).Get<TerraformOptions>() ?? new TerraformOptions();
        if (ensemble.Role != "web")
        {
            problems.AddRange(TerraformRunnerFactory.Validate(terraform, Path.GetFullPath(ensemble.WorkDirectory), ProtectedPaths(configuration, ensemble)));
        }

        return problems;
    }

    /// <summary>Files terraform must never see, on top of the work directory outside its own workspace.</summary>
    public static IReadOnlyList<string> ProtectedPaths(IConfiguration configuration, EnsembleOptions ensemble)
    {
        var paths = new List<string> { AppContext.BaseDirectory, Path.GetFullPath(ensemble.WorkDirectory) };
        if (configuration["GitHub:PrivateKeyPath"] is { Length: > 0 } key)
        {
            paths.Add(Path.GetFullPath(key));
        }

        return paths;
    }
}
