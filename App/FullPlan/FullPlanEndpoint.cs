using System.Net;
using System.Text;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Plans;
using Markdig;

namespace Ensemble.App.FullPlan;

/// <summary>
/// <c>GET /plans/{token}</c>: the whole plan, rendered as in the check run but without GitHub's length limit, for holders of
/// a signed, unexpired link. Only the rendering is ever served (sensitive values masked): never the plan JSON or the plan
/// file, which hold them in clear. There is no listing and nothing to guess: the token itself names the artifact.
/// </summary>
public static partial class FullPlanEndpoint
{
    public const string PathPrefix = "/plans/";

    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    public static IServiceCollection AddFullPlanLinks(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton(_ => FullPlanLinkSettings.From(configuration));
        services.AddSingleton(sp => new FullPlanLinks(sp.GetRequiredService<FullPlanLinkSettings>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddSingleton<IFullPlanLinks>(sp => sp.GetRequiredService<FullPlanLinks>());
        return services;
    }

    public static IEndpointRouteBuilder MapFullPlan(this IEndpointRouteBuilder app)
    {
        app.MapGet(PathPrefix + "{token}", ServeAsync).ExcludeFromDescription();
        return app;
    }

    internal static async Task<IResult> ServeAsync(string token, HttpContext http, FullPlanLinks links, IArtifactStore artifacts,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var headers = http.Response.Headers;
        headers.CacheControl = "no-store";
        headers["X-Robots-Tag"] = "noindex, nofollow";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'";
        headers.XContentTypeOptions = "nosniff";

        var check = links.Verify(token);
        if (check is LinkCheck.Expired)
        {
            return Page(StatusCodes.Status410Gone, "This link has expired",
                "Links to a full plan expire. Open the check run on the pull request again for a fresh link.");
        }

        // Only plan JSON keys are ever signed; anything else is refused like a forged link.
        if (check is not LinkCheck.Valid { ArtifactKey: var key } || !key.EndsWith("/" + ArtifactKeys.PlanJson, StringComparison.Ordinal))
        {
            return Page(StatusCodes.Status403Forbidden, "This link is not valid",
                "The link is incomplete or was changed. Copy it again from the check run on the pull request.");
        }

        PlanParseResult parsed;
        await using (var stream = await artifacts.OpenReadAsync(key, cancellationToken))
        {
            if (stream is null)
            {
                return Page(StatusCodes.Status404NotFound, "This plan is no longer stored",
                    "The plan's artifacts were removed. Comment /ensemble replan on the pull request to plan again.");
            }

            // Straight from the stream: the plan's bytes are held once, not also in a MemoryStream and its copy.
            parsed = await PlanDocument.ParseAsync(stream, cancellationToken);
        }

        if (parsed.Plan is not { } plan)
        {
            LogUnreadable(loggers.CreateLogger(typeof(FullPlanEndpoint)), key, parsed.Error);
            return Page(StatusCodes.Status500InternalServerError, "This plan cannot be shown",
                "Ensemble could not read the stored plan. Comment /ensemble replan on the pull request to plan again.");
        }

        var where = KeyParts.From(key);
        // The link does not say whether the run was a destroy plan (a deleted project's); the plan does: every resource
        // it manages is deleted. The page then carries the same banner and title as the check run.
        var output = PlanRenderer.RenderFull(plan, new PlanRenderContext(where?.ProjectPath ?? ".", Destroy: plan.DestroysEverything));
        // Configured secrets (tokens, keys) are masked as in logs; the plan's own sensitive values are already masked.
        var masker = http.RequestServices.GetService<SecretMasker>() ?? SecretMasker.None;
        var body = new StringBuilder();
        if (where is not null)
        {
            body.Append("<p class=\"meta\">").Append(Html($"{where.Repository} #{where.PullRequest}")).Append(" · project ").Append(Html(where.ProjectPath))
                .Append(" · commit ").Append(Html(where.HeadSha[..Math.Min(7, where.HeadSha.Length)])).Append("</p>\n");
        }

        body.Append("<h1>").Append(Html(masker.Mask(output.Title))).Append("</h1>\n");
        body.Append(Markdown.ToHtml(masker.Mask(output.Summary), Pipeline));
        if (output.Text is { } text)
        {
            body.Append("<hr>\n").Append(Markdown.ToHtml(masker.Mask(text), Pipeline));
        }

        return Results.Content(Document(output.Title, body.ToString()), "text/html; charset=utf-8", Encoding.UTF8, StatusCodes.Status200OK);
    }

    private static IResult Page(int status, string title, string message) =>
        Results.Content(Document(title, $"<h1>{Html(title)}</h1>\n<p>{Html(message)}</p>\n"), "text/html; charset=utf-8", Encoding.UTF8, status);

    private static string Html(string text) => WebUtility.HtmlEncode(text);

    private static string Document(string title, string body) => $$"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="robots" content="noindex, nofollow">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{Html(title)}} · Ensemble</title>
        <style>
        body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #1f2328; }
        .meta { color: #59636e; }
        code, pre { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
        pre { background: #f6f8fa; padding: 1em; overflow-x: auto; }
        code { background: #eff1f3; padding: 0.1em 0.3em; border-radius: 4px; }
        pre code { background: none; padding: 0; }
        details { margin: 0.4em 0; }
        summary { cursor: pointer; }
        blockquote, .markdown-alert { border-left: 4px solid #d1d9e0; margin: 0; padding: 0 1em; color: #59636e; }
        </style>
        </head>
        <body>
        <main>
        {{body}}
        </main>
        </body>
        </html>
        """;

    /// <summary>What an artifact key says about the plan, for the page's heading (see <see cref="ArtifactKeys.For"/>).</summary>
    private sealed record KeyParts(string Repository, string PullRequest, string HeadSha, string ProjectPath)
    {
        public static KeyParts? From(string key)
        {
            var s = key.Split('/');
            if (s.Length < 8 || s[0] != "repos" || s[3] != "pulls")
            {
                return null;
            }

            var project = s[6..^1];
            var path = project is [ArtifactKeys.RootProjectSegment] ? "." : string.Join('/', project.Select(Uri.UnescapeDataString));
            return new KeyParts($"{Uri.UnescapeDataString(s[1])}/{Uri.UnescapeDataString(s[2])}", s[4], s[5], path);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Stored plan {Key} could not be read: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string key, string? reason);
}
