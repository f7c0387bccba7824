using System.Text.Json;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Jobs;
using Ensemble.Jobs.State;
using Microsoft.Extensions.Primitives;
using Octokit.Webhooks;
using Octokit.Webhooks.AspNetCore;

namespace Ensemble.App.Webhooks;

/// <summary>
/// Records each signed delivery by its <c>X-GitHub-Delivery</c> id — one INSERT — and nothing else.
/// Octokit.Webhooks awaits this before answering GitHub (which waits 10 s at most), so git and terraform never run here.
/// A redelivery (same id) is acknowledged and not processed again.
/// </summary>
public sealed partial class EnsembleWebhookProcessor(
    DeliveryRecorder recorder, DeliveryDispatcher dispatcher, TimeProvider time, ILogger<EnsembleWebhookProcessor> logger) : WebhookEventProcessor
{
    public override async ValueTask ProcessWebhookAsync(IDictionary<string, StringValues> headers, string body, CancellationToken cancellationToken = default)
    {
        var deliveryId = Header(headers, "X-GitHub-Delivery");
        var eventName = Header(headers, "X-GitHub-Event");
        if (string.IsNullOrEmpty(deliveryId) || string.IsNullOrEmpty(eventName))
        {
            throw new BadHttpRequestException("A GitHub webhook needs the X-GitHub-Delivery and X-GitHub-Event headers.");
        }

        string? action = null;
        long? installationId = null;
        string? repository = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            action = root.TryGetProperty("action", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
            if (root.TryGetProperty("installation", out var i) && i.ValueKind == JsonValueKind.Object && i.TryGetProperty("id", out var id) && id.TryGetInt64(out var value))
            {
                installationId = value;
            }

            if (root.TryGetProperty("repository", out var r) && r.ValueKind == JsonValueKind.Object && r.TryGetProperty("full_name", out var name))
            {
                repository = name.GetString();
            }
        }
        catch (JsonException)
        {
            throw new BadHttpRequestException("The webhook body is not JSON.");
        }

        var recorded = await recorder.RecordAsync(
            new Delivery(deliveryId, eventName, action, installationId, repository, body, time.GetUtcNow(), null), cancellationToken);
        if (!recorded)
        {
            LogRedelivery(logger, deliveryId, eventName);
            return;
        }

        // Recorded durably: the answer can go. The dispatcher enqueues the work (the outbox), woken now.
        dispatcher.Wake();
    }

    private static string? Header(IDictionary<string, StringValues> headers, string name)
    {
        foreach (var (key, value) in headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return value.ToString();
            }
        }
        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivery {DeliveryId} ({Event}) was already recorded: acknowledged, not processed again")]
    private static partial void LogRedelivery(ILogger logger, string deliveryId, string @event);
}

public static class WebhookExtensions
{
    public const string Path = "/api/github/webhooks";

    public static IServiceCollection AddEnsembleWebhooks(this IServiceCollection services) =>
        services.AddSingleton<DeliveryRecorder>().AddSingleton<WebhookEventProcessor, EnsembleWebhookProcessor>();

    /// <summary>Largest body GitHub sends (25 MB); anything bigger is refused before it is read.</summary>
    public const long MaxBodyBytes = 25 * 1024 * 1024;

    public static IEndpointConventionBuilder MapEnsembleWebhooks(this WebApplication app, string secret)
    {
        // Octokit.Webhooks answers a bad signature with 400 and treats unsigned requests as valid when no secret is
        // set; GitHub's contract is 401 for a forged or missing signature, checked here first on the raw bytes.
        app.UseWhen(context => HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals(Path, StringComparison.OrdinalIgnoreCase),
            branch => branch.Use(async (context, next) =>
            {
                if (context.Request.ContentLength > MaxBodyBytes)
                {
                    context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                    return;
                }

                context.Request.EnableBuffering();
                using var buffer = new MemoryStream();
                await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
                context.Request.Body.Position = 0;
                if (!WebhookSignature.IsValid(secret, buffer.GetBuffer().AsSpan(0, (int)buffer.Length), context.Request.Headers["X-Hub-Signature-256"].ToString()))
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    await context.Response.WriteAsync("Invalid or missing X-Hub-Signature-256.");
                    return;
                }

                await next(context);
            }));
        return app.MapGitHubWebhooks(Path, secret);
    }
}
