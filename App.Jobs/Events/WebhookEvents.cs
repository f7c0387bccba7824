using System.Text.Json;
using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.Events;

/// <summary>Ensemble's own view of a GitHub event. Only <see cref="WebhookEventParser"/> knows GitHub's payload shapes.</summary>
public abstract record GitHubEvent;

public sealed record PullRequestEvent : GitHubEvent
{
    public required RepoRef Repo { get; init; }
    public required string Action { get; init; }
    public required int Number { get; init; }
    public required string HeadSha { get; init; }
    public required string HeadRef { get; init; }
    public required string BaseSha { get; init; }
    public required string BaseRef { get; init; }
    public required string Author { get; init; }
    public required bool Merged { get; init; }
    public string? MergeCommitSha { get; init; }
    public required bool Draft { get; init; }
    public required bool FromFork { get; init; }
    public string? DefaultBranch { get; init; }
}

/// <summary>A click on a check run's button (<c>requested_action</c>) or "Re-run" (<c>rerequested</c>).</summary>
public sealed record CheckRunEvent : GitHubEvent
{
    public required RepoRef Repo { get; init; }
    public required string Action { get; init; }
    public required long CheckRunId { get; init; }
    public required string Name { get; init; }
    public required string HeadSha { get; init; }
    public string? ExternalId { get; init; }
    /// <summary>The button's identifier for <c>requested_action</c>.</summary>
    public string? Identifier { get; init; }
    public required string Sender { get; init; }
}

/// <summary>"Re-run all checks" on a commit.</summary>
public sealed record CheckSuiteEvent : GitHubEvent
{
    public required RepoRef Repo { get; init; }
    public required string Action { get; init; }
    public required string HeadSha { get; init; }
    public required string Sender { get; init; }
}

/// <summary>A comment on a pull request (GitHub sends these as issue comments).</summary>
public sealed record PullRequestCommentEvent : GitHubEvent
{
    public required RepoRef Repo { get; init; }
    public required string Action { get; init; }
    public required int Number { get; init; }
    public required long CommentId { get; init; }
    public required string Body { get; init; }
    public required string Author { get; init; }
    /// <summary>GitHub's user type: "User" or "Bot". Ensemble ignores bots, itself included.</summary>
    public required string AuthorType { get; init; }
}

/// <summary>
/// Commits pushed to a branch or tag. Ensemble acts on pushes to the default branch: open pull requests whose planned
/// inputs the push changed are planned again (their plans would be stale).
/// </summary>
public sealed record PushEvent : GitHubEvent
{
    /// <summary>GitHub's "nothing" commit: <see cref="Before"/> of a created ref, <see cref="After"/> of a deleted one.</summary>
    public const string ZeroSha = "0000000000000000000000000000000000000000";

    public required RepoRef Repo { get; init; }
    /// <summary>The full ref, e.g. <c>refs/heads/main</c> or <c>refs/tags/v1</c>.</summary>
    public required string Ref { get; init; }
    public required string Before { get; init; }
    public required string After { get; init; }
    public string? DefaultBranch { get; init; }
    public required bool Created { get; init; }
    public required bool Deleted { get; init; }
    public required bool Forced { get; init; }

    /// <summary>The branch name for a branch push, null for a tag.</summary>
    public string? Branch => Ref.StartsWith("refs/heads/", StringComparison.Ordinal) ? Ref["refs/heads/".Length..] : null;

    /// <summary>An update of the default branch that moved it from one commit to another (not its creation or deletion).</summary>
    public bool MovesDefaultBranch =>
        Branch is { } branch && string.Equals(branch, DefaultBranch, StringComparison.Ordinal)
        && !Created && !Deleted && Before != ZeroSha && After != ZeroSha && Before != After;
}

/// <summary>An event Ensemble records but does not act on, with the reason (for logs and the dashboard).</summary>
public sealed record IgnoredEvent(string Reason) : GitHubEvent;

/// <summary>Translates raw webhook payloads into <see cref="GitHubEvent"/> records. Pure; tolerant of unknown fields.</summary>
public static class WebhookEventParser
{
    public static GitHubEvent Parse(string eventName, string payload)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload);
        }
        catch (JsonException e)
        {
            return new IgnoredEvent($"payload is not JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            return eventName switch
            {
                "pull_request" => ParsePullRequest(root),
                "check_run" => ParseCheckRun(root),
                "check_suite" => ParseCheckSuite(root),
                "issue_comment" => ParseIssueComment(root),
                "push" => ParsePush(root),
                "ping" => new IgnoredEvent("ping: GitHub checking that the webhook URL answers"),
                _ => new IgnoredEvent($"event '{eventName}' is not handled"),
            };
        }
    }

    private static GitHubEvent ParsePullRequest(JsonElement root)
    {
        if (Repo(root) is not { } repo)
        {
            return new IgnoredEvent("pull_request without installation or repository: not sent to an installed App");
        }

        if (!root.TryGetProperty("pull_request", out var pr) || pr.ValueKind != JsonValueKind.Object)
        {
            return new IgnoredEvent("pull_request event without a pull_request object");
        }

        var head = pr.GetProperty("head");
        var @base = pr.GetProperty("base");
        var headRepo = head.TryGetProperty("repo", out var hr) && hr.ValueKind == JsonValueKind.Object ? hr : default;
        var baseRepo = @base.GetProperty("repo");
        var fromFork = headRepo.ValueKind != JsonValueKind.Object
            || !string.Equals(String(headRepo, "full_name"), String(baseRepo, "full_name"), StringComparison.OrdinalIgnoreCase);

        return new PullRequestEvent
        {
            Repo = repo,
            Action = String(root, "action") ?? "",
            Number = pr.GetProperty("number").GetInt32(),
            HeadSha = String(head, "sha") ?? throw new FormatException("pull_request.head.sha is missing"),
            HeadRef = String(head, "ref") ?? "",
            BaseSha = String(@base, "sha") ?? throw new FormatException("pull_request.base.sha is missing"),
            BaseRef = String(@base, "ref") ?? "",
            Author = pr.TryGetProperty("user", out var user) && user.ValueKind == JsonValueKind.Object ? String(user, "login") ?? "" : "",
            Merged = pr.TryGetProperty("merged", out var merged) && merged.ValueKind == JsonValueKind.True,
            MergeCommitSha = String(pr, "merge_commit_sha"),
            Draft = pr.TryGetProperty("draft", out var draft) && draft.ValueKind == JsonValueKind.True,
            FromFork = fromFork,
            DefaultBranch = String(baseRepo, "default_branch"),
        };
    }

    private static GitHubEvent ParseCheckRun(JsonElement root)
    {
        if (Repo(root) is not { } repo || !root.TryGetProperty("check_run", out var run) || run.ValueKind != JsonValueKind.Object)
        {
            return new IgnoredEvent("check_run without installation, repository or check_run");
        }

        string? identifier = null;
        if (root.TryGetProperty("requested_action", out var requested) && requested.ValueKind == JsonValueKind.Object)
        {
            identifier = String(requested, "identifier");
        }

        return new CheckRunEvent
        {
            Repo = repo,
            Action = String(root, "action") ?? "",
            CheckRunId = run.TryGetProperty("id", out var id) && id.TryGetInt64(out var value) ? value : 0,
            Name = String(run, "name") ?? "",
            HeadSha = String(run, "head_sha") ?? "",
            ExternalId = String(run, "external_id"),
            Identifier = identifier,
            Sender = Login(root, "sender"),
        };
    }

    private static GitHubEvent ParseCheckSuite(JsonElement root)
    {
        if (Repo(root) is not { } repo || !root.TryGetProperty("check_suite", out var suite) || suite.ValueKind != JsonValueKind.Object)
        {
            return new IgnoredEvent("check_suite without installation, repository or check_suite");
        }

        return new CheckSuiteEvent { Repo = repo, Action = String(root, "action") ?? "", HeadSha = String(suite, "head_sha") ?? "", Sender = Login(root, "sender") };
    }

    private static GitHubEvent ParseIssueComment(JsonElement root)
    {
        if (Repo(root) is not { } repo)
        {
            return new IgnoredEvent("issue_comment without installation or repository");
        }

        if (!root.TryGetProperty("issue", out var issue) || issue.ValueKind != JsonValueKind.Object
            || !issue.TryGetProperty("pull_request", out var pr) || pr.ValueKind != JsonValueKind.Object)
        {
            return new IgnoredEvent("issue_comment on an issue, not a pull request");
        }

        var comment = root.GetProperty("comment");
        var user = comment.TryGetProperty("user", out var u) && u.ValueKind == JsonValueKind.Object ? u : default;
        return new PullRequestCommentEvent
        {
            Repo = repo,
            Action = String(root, "action") ?? "",
            Number = issue.GetProperty("number").GetInt32(),
            CommentId = comment.GetProperty("id").GetInt64(),
            Body = String(comment, "body") ?? "",
            Author = user.ValueKind == JsonValueKind.Object ? String(user, "login") ?? "" : "",
            AuthorType = user.ValueKind == JsonValueKind.Object ? String(user, "type") ?? "User" : "User",
        };
    }

    private static GitHubEvent ParsePush(JsonElement root)
    {
        if (Repo(root) is not { } repo)
        {
            return new IgnoredEvent("push without installation or repository: not sent to an installed App");
        }

        var @ref = String(root, "ref");
        var before = String(root, "before");
        var after = String(root, "after");
        if (@ref is null || before is null || after is null)
        {
            return new IgnoredEvent("push without ref, before or after");
        }

        return new PushEvent
        {
            Repo = repo,
            Ref = @ref,
            Before = before,
            After = after,
            DefaultBranch = String(root.GetProperty("repository"), "default_branch"),
            Created = Bool(root, "created"),
            Deleted = Bool(root, "deleted"),
            Forced = Bool(root, "forced"),
        };
    }

    private static bool Bool(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.True;

    private static string Login(JsonElement root, string property) =>
        root.TryGetProperty(property, out var user) && user.ValueKind == JsonValueKind.Object ? String(user, "login") ?? "" : "";

    /// <summary>The repository and installation a payload is about, or null when it was not sent to an App installation.</summary>
    public static RepoRef? Repo(JsonElement root)
    {
        if (!root.TryGetProperty("installation", out var installation) || installation.ValueKind != JsonValueKind.Object
            || !installation.TryGetProperty("id", out var id) || !id.TryGetInt64(out var installationId))
        {
            return null;
        }

        if (!root.TryGetProperty("repository", out var repository) || repository.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var owner = repository.TryGetProperty("owner", out var o) && o.ValueKind == JsonValueKind.Object ? String(o, "login") : null;
        var name = String(repository, "name");
        return owner is null || name is null ? null : new RepoRef(installationId, owner, name);
    }

    private static string? String(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
