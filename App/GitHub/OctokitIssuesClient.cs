using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.Core;
using Octokit;

namespace Ensemble.App.GitHub;

public sealed class OctokitIssuesClient(GitHubClientFactory clients) : IGitHubIssues
{
    /// <summary>GitHub's limit for a comment body.</summary>
    public const int MaxCommentLength = 65_536;

    public async Task<string> GetPermissionAsync(RepoRef repo, string user, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentException.ThrowIfNullOrWhiteSpace(user);
        var client = await clients.ForInstallationAsync(repo.InstallationId, cancellationToken).ConfigureAwait(false);
        try
        {
            var response = await client.Repository.Collaborator.ReviewPermission(repo.Owner, repo.Name, user)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            return string.IsNullOrEmpty(response.Permission) ? "none" : response.Permission;
        }
        catch (NotFoundException)
        {
            // GitHub answers 404 for a user it does not know: such a user holds no permission.
            return "none";
        }
    }

    public async Task<long> CreateCommentAsync(RepoRef repo, int issueNumber, string body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(issueNumber);
        CheckBody(body);
        var client = await clients.ForInstallationAsync(repo.InstallationId, cancellationToken).ConfigureAwait(false);
        var comment = await client.Issue.Comment.Create(repo.Owner, repo.Name, issueNumber, body)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return comment.Id;
    }

    public async Task UpdateCommentAsync(RepoRef repo, long commentId, string body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(commentId);
        CheckBody(body);
        var client = await clients.ForInstallationAsync(repo.InstallationId, cancellationToken).ConfigureAwait(false);
        await client.Issue.Comment.Update(repo.Owner, repo.Name, commentId, body).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task AddReactionAsync(RepoRef repo, long commentId, string content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(commentId);
        var reaction = ToReactionType(content);
        var client = await clients.ForInstallationAsync(repo.InstallationId, cancellationToken).ConfigureAwait(false);
        await client.Reaction.IssueComment.Create(repo.Owner, repo.Name, commentId, new NewReaction(reaction))
            .WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> IsTeamMemberAsync(RepoRef repo, string organization, string teamSlug, string user, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentException.ThrowIfNullOrWhiteSpace(organization);
        ArgumentException.ThrowIfNullOrWhiteSpace(teamSlug);
        ArgumentException.ThrowIfNullOrWhiteSpace(user);
        var client = await clients.ForInstallationAsync(repo.InstallationId, cancellationToken).ConfigureAwait(false);
        try
        {
            var uri = new Uri(
                $"orgs/{Uri.EscapeDataString(organization)}/teams/{Uri.EscapeDataString(teamSlug)}/memberships/{Uri.EscapeDataString(user)}",
                UriKind.Relative);
            var response = await client.Connection.Get<TeamMembershipDetails>(uri, null).WaitAsync(cancellationToken).ConfigureAwait(false);
            return response.Body?.State.Value == MembershipState.Active;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    internal static ReactionType ToReactionType(string content) => content switch
    {
        "+1" => ReactionType.Plus1,
        "-1" => ReactionType.Minus1,
        "laugh" => ReactionType.Laugh,
        "confused" => ReactionType.Confused,
        "heart" => ReactionType.Heart,
        "hooray" => ReactionType.Hooray,
        "rocket" => ReactionType.Rocket,
        "eyes" => ReactionType.Eyes,
        _ => throw new ArgumentException($"'{content}' is not a GitHub reaction (+1, -1, laugh, confused, heart, hooray, rocket, eyes)", nameof(content)),
    };

    private static void CheckBody(string body)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(body);
        if (body.Length > MaxCommentLength)
        {
            throw new ArgumentException($"Comment of {body.Length} characters exceeds GitHub's {MaxCommentLength}", nameof(body));
        }
    }
}
