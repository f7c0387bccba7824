using Ensemble.App.GitHub;
using Ensemble.Jobs.Jobs;

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

        var runner = configuration["Terraform:Runner"];
        if (!string.IsNullOrWhiteSpace(runner) && runner != "process")
        {
            // Until the isolating runners land (docs/runners.md), refuse rather than silently run unisolated.
            problems.Add($"Terraform:Runner '{runner}' is not available in this version: use 'process' (or leave it empty).");
        }

        return problems;
    }
}
