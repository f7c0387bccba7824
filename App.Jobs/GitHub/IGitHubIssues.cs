using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.GitHub;

/// <summary>Comments, reactions and permissions: what the comment commands and approvals need from GitHub.</summary>
public interface IGitHubIssues
{
    /// <summary>
    /// The user's permission on the repository as GitHub reports it: <c>admin</c>, <c>write</c>, <c>read</c> or <c>none</c>
    /// (GitHub folds <c>maintain</c> into <c>write</c> and <c>triage</c> into <c>read</c>). An unknown user is <c>none</c>.
    /// </summary>
    Task<string> GetPermissionAsync(RepoRef repo, string user, CancellationToken cancellationToken = default);

    /// <summary>Comments on an issue or pull request and returns the comment's id.</summary>
    Task<long> CreateCommentAsync(RepoRef repo, int issueNumber, string body, CancellationToken cancellationToken = default);

    Task UpdateCommentAsync(RepoRef repo, long commentId, string body, CancellationToken cancellationToken = default);

    /// <summary>Reacts to an issue comment; <paramref name="content"/> is GitHub's name: <c>+1</c>, <c>-1</c>, <c>laugh</c>, <c>confused</c>, <c>heart</c>, <c>hooray</c>, <c>rocket</c>, <c>eyes</c>.</summary>
    Task AddReactionAsync(RepoRef repo, long commentId, string content, CancellationToken cancellationToken = default);

    /// <summary>Whether the user is an active member of the team <c>org/slug</c> (needs the App's members:read permission).</summary>
    Task<bool> IsTeamMemberAsync(RepoRef repo, string organization, string teamSlug, string user, CancellationToken cancellationToken = default);
}
