using System.Collections.Concurrent;
using System.Text;
using Ensemble.Jobs.Config;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.GitHub;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// <c>.ensemble.yml</c> as a commit has it, parsed once per blob. What grants or limits power is taken from the
/// pull request's base commit — the protected branch it merges into — and the rest from its head
/// (<see cref="EffectiveConfig.Merge"/>), so a PR cannot widen its own approvers.
/// </summary>
public sealed class RepoConfigs(GitMirror mirror, IInstallationTokenSource tokens)
{
    public const string FileName = ".ensemble.yml";

    private const int MaxCachedCommits = 10_000;

    private readonly ConcurrentDictionary<string, ConfigResult> _byBlob = new(StringComparer.Ordinal);

    // Commits never change, so their config is looked up in git once: the aggregate asks for every project it lists.
    private readonly ConcurrentDictionary<(string Repo, string Sha), ConfigResult> _byCommit = new();

    public async Task<EffectiveConfig> EffectiveAsync(RepoRef repo, int number, string baseSha, string headSha, CancellationToken ct)
    {
        var (defaultBranch, head) = (await ReadAsync(repo, number, baseSha, ct), await ReadAsync(repo, number, headSha, ct));
        return EffectiveConfig.Merge(defaultBranch, head);
    }

    private async Task<ConfigResult> ReadAsync(RepoRef repo, int number, string sha, CancellationToken ct)
    {
        if (_byCommit.TryGetValue((repo.FullName, sha), out var known))
        {
            return known;
        }

        var result = await ReadFromGitAsync(repo, number, sha, ct);
        if (_byCommit.Count >= MaxCachedCommits)
        {
            _byCommit.Clear();
        }

        _byCommit[(repo.FullName, sha)] = result;
        return result;
    }

    private async Task<ConfigResult> ReadFromGitAsync(RepoRef repo, int number, string sha, CancellationToken ct)
    {
        string? blob;
        try
        {
            blob = await mirror.TreeHashAsync(repo, sha, FileName, ct);
        }
        catch (GitException)
        {
            // This worker's mirror may not have the commit yet (another worker discovered it): fetch, then read.
            var token = await tokens.GetTokenAsync(repo.InstallationId, ct);
            await mirror.FetchAsync(repo, token, [$"refs/pull/{number}/head"], [sha], ct);
            blob = await mirror.TreeHashAsync(repo, sha, FileName, ct);
        }

        if (blob is null)
        {
            return ConfigResult.Missing;
        }

        if (_byBlob.TryGetValue(blob, out var cached))
        {
            return cached;
        }

        var bytes = await mirror.ReadBlobsAsync(repo, [blob], ct);
        var parsed = EnsembleConfig.Parse(Encoding.UTF8.GetString(bytes[blob]));
        _byBlob[blob] = parsed;
        return parsed;
    }
}
