using Ensemble.Jobs.GitHub;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Ensemble.App.GitHub;

public static class GitHubServiceCollectionExtensions
{
    /// <summary>
    /// GitHub options (section <c>GitHub</c>, validated by <see cref="GitHubOptions.Validate"/>), installation tokens,
    /// Octokit clients, check runs and comments. Add <c>ValidateOnStart</c> on the options to refuse to start when invalid.
    /// </summary>
    public static IServiceCollection AddEnsembleGitHub(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<GitHubOptions>().Bind(configuration.GetSection(GitHubOptions.SectionName));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GitHubOptions>, GitHubOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<GitHubClientBuilder>();
        services.TryAddSingleton<InstallationTokenProvider>();
        services.TryAddSingleton<IInstallationTokenSource>(sp => sp.GetRequiredService<InstallationTokenProvider>());
        services.TryAddSingleton<GitHubClientFactory>();
        services.TryAddSingleton<IGitHubChecks, OctokitChecksClient>();
        services.TryAddSingleton<IGitHubIssues, OctokitIssuesClient>();
        return services;
    }
}

/// <summary>Lets <c>ValidateOnStart</c> report every problem of <see cref="GitHubOptions.Validate"/> at once.</summary>
internal sealed class GitHubOptionsValidator : IValidateOptions<GitHubOptions>
{
    public ValidateOptionsResult Validate(string? name, GitHubOptions options)
    {
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
