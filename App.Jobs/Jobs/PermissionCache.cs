using System.Collections.Concurrent;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.GitHub;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Repository permissions and team memberships asked of GitHub, cached briefly (one minute): a reviewer clicking
/// Approve on ten projects costs one permission request, and a revoked permission stops working within a minute.
/// </summary>
public sealed class PermissionCache(IGitHubIssues github, TimeProvider time)
{
    public static TimeSpan Lifetime { get; set; } = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, (string Value, DateTimeOffset Expires)> _permissions = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, (bool Value, DateTimeOffset Expires)> _teams = new(StringComparer.OrdinalIgnoreCase);

    public async Task<string> PermissionAsync(RepoRef repo, string user, CancellationToken ct)
    {
        var key = $"{repo.FullName}\n{user}";
        var now = time.GetUtcNow();
        if (_permissions.TryGetValue(key, out var cached) && cached.Expires > now)
        {
            return cached.Value;
        }

        var permission = await github.GetPermissionAsync(repo, user, ct);
        _permissions[key] = (permission, now + Lifetime);
        return permission;
    }

    /// <summary>The teams (<c>org/slug</c>) among <paramref name="candidates"/> that the user belongs to.</summary>
    public async Task<IReadOnlyList<string>> TeamsAsync(RepoRef repo, string user, IEnumerable<string> candidates, CancellationToken ct)
    {
        var member = new List<string>();
        foreach (var team in candidates.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var parts = team.TrimStart('@').Split('/', 2);
            if (parts.Length != 2)
            {
                continue;
            }

            var key = $"{parts[0]}/{parts[1]}\n{user}";
            var now = time.GetUtcNow();
            bool isMember;
            if (_teams.TryGetValue(key, out var cached) && cached.Expires > now)
            {
                isMember = cached.Value;
            }
            else
            {
                isMember = await github.IsTeamMemberAsync(repo, parts[0], parts[1], user, ct);
                _teams[key] = (isMember, now + Lifetime);
            }

            if (isMember)
            {
                member.Add($"{parts[0]}/{parts[1]}");
            }
        }
        return member;
    }
}
