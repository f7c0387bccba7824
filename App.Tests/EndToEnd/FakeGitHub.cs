using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using WireMock;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Types;
using WireMock.Util;

namespace Ensemble.Tests.EndToEnd;

/// <summary>
/// GitHub as Ensemble sees it, on WireMock: installation tokens, check runs (kept as GitHub would show them, with
/// every state they went through), permissions and comments. Unknown requests answer 404 and are listed.
/// </summary>
public sealed partial class FakeGitHub : IDisposable
{
    public const string InstallationToken = "ghs_e2eInstallationToken0123456789";

    private readonly ConcurrentDictionary<long, CheckRunView> _checkRuns = new();
    private readonly ConcurrentQueue<string> _unexpected = new();
    private readonly ConcurrentDictionary<long, CommentView> _comments = new();
    private readonly ConcurrentQueue<(long Comment, string Reaction)> _reactions = new();
    private long _nextId = 1000;

    public FakeGitHub()
    {
        Server = WireMockServer.Start();
        Server.Given(Request.Create().UsingAnyMethod()).RespondWith(Response.Create().WithCallback(Handle));
    }

    public WireMockServer Server { get; }

    public string ApiUrl => Server.Url + "/";

    public IReadOnlyCollection<string> Unexpected => [.. _unexpected];

    public Dictionary<string, string> Permissions { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Team memberships as "org/team/user".</summary>
    public HashSet<string> TeamMembers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyList<CheckRunView> CheckRuns => [.. _checkRuns.Values.OrderBy(c => c.Id)];

    public CheckRunView? Latest(string name, string headSha) =>
        CheckRuns.LastOrDefault(c => c.Name == name && c.HeadSha == headSha);

    public int RequestCount => Server.LogEntries.Count();

    /// <summary>Every request so far, oldest first, as "METHOD /path" with numbers replaced by <c>{n}</c> (for counting by kind).</summary>
    public IReadOnlyList<string> Requests =>
        [.. Server.LogEntries.OrderBy(e => e.RequestMessage.DateTime).Select(e => $"{e.RequestMessage.Method} {NumberPattern().Replace(e.RequestMessage.AbsolutePath, "{n}")}")];

    /// <summary>Waits until no request has arrived for <paramref name="quiet"/> (the app has finished what it was doing).</summary>
    public async Task WaitUntilQuietAsync(TimeSpan quiet, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var count = RequestCount;
        var since = DateTime.UtcNow;
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            if (RequestCount != count)
            {
                count = RequestCount;
                since = DateTime.UtcNow;
            }
            else if (DateTime.UtcNow - since >= quiet)
            {
                return;
            }
        }

        throw new TimeoutException($"GitHub never went quiet for {quiet.TotalSeconds:0.#} s within {timeout.TotalSeconds:0} s.");
    }

    [System.Text.RegularExpressions.GeneratedRegex("(?<=/)[0-9]+(?=/|$)")]
    private static partial System.Text.RegularExpressions.Regex NumberPattern();

    /// <summary>Pull-request comments as GitHub would show them now, oldest first.</summary>
    public IReadOnlyList<CommentView> Comments => [.. _comments.Values.OrderBy(c => c.Id)];

    public IReadOnlyList<(long Comment, string Reaction)> Reactions => [.. _reactions];

    private ResponseMessage Handle(WireMock.IRequestMessage request)
    {
        var path = request.AbsolutePath;
        var segments = path.Trim('/').Split('/');
        try
        {
            switch (request.Method)
            {
                case "POST" when segments is ["app", "installations", _, "access_tokens"]:
                    return Json(201, new JsonObject
                    {
                        ["token"] = InstallationToken,
                        ["expires_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
                        ["permissions"] = new JsonObject { ["checks"] = "write", ["contents"] = "read" },
                    });
                case "POST" when segments is ["repos", var owner, var repo, "check-runs"]:
                {
                    var body = JsonNode.Parse(request.Body!)!.AsObject();
                    var id = Interlocked.Increment(ref _nextId);
                    var run = new CheckRunView(id, $"{owner}/{repo}", body["name"]!.GetValue<string>(), body["head_sha"]!.GetValue<string>());
                    run.Apply(body);
                    _checkRuns[id] = run;
                    return Json(201, run.ToJson());
                }
                case "PATCH" when segments is ["repos", _, _, "check-runs", var idText] && long.TryParse(idText, out var checkRunId):
                {
                    if (!_checkRuns.TryGetValue(checkRunId, out var run))
                    {
                        return Json(404, new JsonObject { ["message"] = "Not Found" });
                    }

                    run.Apply(JsonNode.Parse(request.Body!)!.AsObject());
                    return Json(200, run.ToJson());
                }
                case "GET" when segments is ["repos", _, _, "collaborators", var user, "permission"]:
                    var permission = Permissions.GetValueOrDefault(user, "read");
                    return Json(200, new JsonObject { ["permission"] = permission, ["user"] = new JsonObject { ["login"] = user } });
                case "GET" when segments is ["orgs", var org, "teams", var team, "memberships", var member]:
                    return TeamMembers.Contains($"{org}/{team}/{member}")
                        ? Json(200, new JsonObject { ["state"] = "active", ["role"] = "member", ["url"] = "" })
                        : Json(404, new JsonObject { ["message"] = "Not Found" });
                case "POST" when segments is ["repos", _, _, "issues", var numberText, "comments"]:
                {
                    var comment = new CommentView(Interlocked.Increment(ref _nextId), int.Parse(numberText, System.Globalization.CultureInfo.InvariantCulture),
                        JsonNode.Parse(request.Body!)!["body"]!.GetValue<string>());
                    _comments[comment.Id] = comment;
                    return Json(201, new JsonObject { ["id"] = comment.Id, ["body"] = comment.Body });
                }
                case "PATCH" when segments is ["repos", _, _, "issues", "comments", var commentText] && long.TryParse(commentText, out var commentId):
                {
                    if (!_comments.TryGetValue(commentId, out var comment))
                    {
                        return Json(404, new JsonObject { ["message"] = "Not Found" });
                    }

                    comment.Edit(JsonNode.Parse(request.Body!)!["body"]!.GetValue<string>());
                    return Json(200, new JsonObject { ["id"] = comment.Id, ["body"] = comment.Body });
                }
                case "POST" when segments is ["repos", _, _, "issues", "comments", var reactedText, "reactions"] && long.TryParse(reactedText, out var reactedId):
                {
                    var content = JsonNode.Parse(request.Body!)!["content"]!.GetValue<string>();
                    _reactions.Enqueue((reactedId, content));
                    return Json(201, new JsonObject { ["id"] = Interlocked.Increment(ref _nextId), ["content"] = content });
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            _unexpected.Enqueue($"{request.Method} {path}: bad body ({e.Message})");
            return Json(422, new JsonObject { ["message"] = "Validation Failed" });
        }

        _unexpected.Enqueue($"{request.Method} {path}");
        return Json(404, new JsonObject { ["message"] = "Not Found" });
    }

    private static ResponseMessage Json(int status, JsonNode body) => new()
    {
        StatusCode = status,
        Headers = new Dictionary<string, WireMockList<string>> { ["Content-Type"] = new("application/json; charset=utf-8") },
        BodyData = new BodyData { DetectedBodyType = BodyType.String, BodyAsString = body.ToJsonString() },
    };

    /// <summary>What the host behind this GitHub was doing, appended to a timeout's message (set by the test host).</summary>
    public Func<string>? Diagnostics { get; set; }

    /// <summary>Waits until <paramref name="condition"/> holds, polling; fails with what GitHub shows when time runs out.</summary>
    public async Task WaitUntilAsync(Func<FakeGitHub, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition(this))
            {
                return;
            }
            await Task.Delay(100);
        }

        Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for {what}. Check runs:\n" +
            string.Join("\n", CheckRuns.Select(c => $"  #{c.Id} '{c.Name}' {c.HeadSha[..7]} {c.Status}/{c.Conclusion}: {c.Title}")) +
            (Unexpected.Count > 0 ? "\nUnexpected requests:\n  " + string.Join("\n  ", Unexpected) : "") +
            (Diagnostics is { } diagnose ? "\n" + diagnose() : ""));
    }

    public void Dispose()
    {
        Server.Stop();
        Server.Dispose();
    }
}

/// <summary>A check run as GitHub would show it, plus the history of what it showed.</summary>
public sealed class CheckRunView(long id, string repository, string name, string headSha)
{
    private readonly object _gate = new();
    private readonly List<(string Status, string? Title, string? Summary, string? Text)> _history = [];

    public long Id { get; } = id;
    public string Repository { get; } = repository;
    public string Name { get; } = name;
    public string HeadSha { get; } = headSha;
    public string Status { get; private set; } = "queued";
    public string? Conclusion { get; private set; }
    public string? Title { get; private set; }
    public string? Summary { get; private set; }
    public string? Text { get; private set; }
    public string? ExternalId { get; private set; }
    public IReadOnlyList<string> Actions { get; private set; } = [];

    /// <summary>Annotations as "path:line: title", as GitHub shows them on the diff.</summary>
    public IReadOnlyList<string> Annotations { get; private set; } = [];

    public IReadOnlyList<(string Status, string? Title, string? Summary, string? Text)> History
    {
        get { lock (_gate) { return [.. _history]; } }
    }

    public void Apply(JsonObject body)
    {
        lock (_gate)
        {
            if (body["status"] is { } status)
            {
                Status = status.GetValue<string>();
            }

            if (body["conclusion"] is { } conclusion)
            {
                Conclusion = conclusion.GetValue<string>();
                Status = "completed";
            }

            if (body["output"] is JsonObject output)
            {
                Title = output["title"]?.GetValue<string>();
                Summary = output["summary"]?.GetValue<string>();
                Text = output["text"]?.GetValue<string>();
                if (output["annotations"] is JsonArray annotations)
                {
                    Annotations = [.. Annotations, .. annotations.Select(a => $"{a!["path"]}:{a["start_line"]}: {a["title"]}")];
                }
            }

            if (body["external_id"] is { } external)
            {
                ExternalId = external.GetValue<string>();
            }

            if (body["actions"] is JsonArray actions)
            {
                Actions = [.. actions.Select(a => a!["identifier"]!.GetValue<string>())];
            }

            _history.Add((Status, Title, Summary, Text));
        }
    }

    public JsonObject ToJson() => new()
    {
        ["id"] = Id,
        ["name"] = Name,
        ["head_sha"] = HeadSha,
        ["status"] = Status,
        ["conclusion"] = Conclusion,
        ["external_id"] = ExternalId,
        ["html_url"] = $"https://github.com/{Repository}/runs/{Id}",
        ["url"] = $"https://api.github.com/repos/{Repository}/check-runs/{Id}",
        ["output"] = new JsonObject { ["title"] = Title, ["summary"] = Summary, ["text"] = Text, ["annotations_count"] = 0, ["annotations_url"] = "" },
        ["app"] = new JsonObject { ["id"] = 1, ["slug"] = "ensemble" },
        ["pull_requests"] = new JsonArray(),
    };
}

/// <summary>An issue or pull-request comment and how many times it was edited.</summary>
public sealed class CommentView(long id, int issueNumber, string body)
{
    public long Id { get; } = id;
    public int IssueNumber { get; } = issueNumber;
    public string Body { get; private set; } = body;
    public int Edits { get; private set; }

    public void Edit(string body)
    {
        Body = body;
        Edits++;
    }
}
