using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;

namespace Ensemble.App.GitHub;

/// <summary>
/// Waits and retries when GitHub answers "slow down" (403/429): honours <c>Retry-After</c>, waits for a primary
/// limit's reset, and backs off on a secondary limit. Delays run on the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed partial class RateLimitHandler(GitHubRateLimitOptions options, TimeProvider time, ILogger logger) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var response = await SendAttemptAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode is not (HttpStatusCode.Forbidden or HttpStatusCode.TooManyRequests))
            {
                return response;
            }

            // Buffered so the body can be inspected here and still be read by Octokit afterwards.
            await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var delay = RequestedWait(response.StatusCode, response.Headers, body, time.GetUtcNow(), attempt, options);
            if (delay is not { } wait)
            {
                return response;
            }

            if (!Acceptable(wait, options))
            {
                LogTooLong(logger, request.Method, request.RequestUri?.AbsolutePath, (int)response.StatusCode, wait.Delay, options.MaxWait);
                return response;
            }

            if (attempt >= options.MaxRetries)
            {
                LogGivingUp(logger, request.Method, request.RequestUri?.AbsolutePath, (int)response.StatusCode, attempt);
                return response;
            }

            LogWaiting(logger, request.Method, request.RequestUri?.AbsolutePath, (int)response.StatusCode, wait.Delay, attempt + 1);
            response.Dispose();
            await Task.Delay(wait.Delay, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<HttpResponseMessage> SendAttemptAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // Per attempt, because HttpClient's own timeout would also count the waits between attempts.
        using var timeout = new CancellationTokenSource(options.RequestTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await base.SendAsync(request, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"GitHub did not answer {request.Method} {request.RequestUri?.AbsolutePath} within {options.RequestTimeout}");
        }
    }

    /// <summary>
    /// How long to wait before retrying, or null when the answer is not a rate limit (a plain 403) or the wait
    /// GitHub asks for exceeds <see cref="GitHubRateLimitOptions.MaxWait"/> (the caller fails and retries later).
    /// </summary>
    internal static TimeSpan? RetryDelay(
        HttpStatusCode status, HttpResponseHeaders headers, string? body, DateTimeOffset now, int attempt, GitHubRateLimitOptions options) =>
        RequestedWait(status, headers, body, now, attempt, options) is { } wait && Acceptable(wait, options) ? wait.Delay : null;

    /// <summary>Waits GitHub names are capped by MaxWait; our own secondary-limit backoff follows GitHub's advice instead.</summary>
    private static bool Acceptable(Wait wait, GitHubRateLimitOptions options) => !wait.NamedByGitHub || wait.Delay <= options.MaxWait;

    private readonly record struct Wait(TimeSpan Delay, bool NamedByGitHub);

    /// <summary>The wait GitHub asks for, or the backoff for a secondary limit; null when the answer is no rate limit.</summary>
    private static Wait? RequestedWait(
        HttpStatusCode status, HttpResponseHeaders headers, string? body, DateTimeOffset now, int attempt, GitHubRateLimitOptions options)
    {
        if (status is not (HttpStatusCode.Forbidden or HttpStatusCode.TooManyRequests))
        {
            return null;
        }

        if (headers.RetryAfter is { } retryAfter)
        {
            var wait = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - now : TimeSpan.Zero);
            return new Wait(wait < TimeSpan.Zero ? TimeSpan.Zero : wait, NamedByGitHub: true);
        }

        if (Header(headers, "x-ratelimit-remaining") == "0"
            && long.TryParse(Header(headers, "x-ratelimit-reset"), NumberStyles.None, CultureInfo.InvariantCulture, out var resetSeconds))
        {
            // One second past the reset: GitHub's clock and ours differ by a little.
            var wait = DateTimeOffset.FromUnixTimeSeconds(resetSeconds) - now + TimeSpan.FromSeconds(1);
            return new Wait(wait < TimeSpan.Zero ? TimeSpan.Zero : wait, NamedByGitHub: true);
        }

        var secondary = status == HttpStatusCode.TooManyRequests
            || (body is not null && (body.Contains("secondary rate limit", StringComparison.OrdinalIgnoreCase)
                                     || body.Contains("abuse detection", StringComparison.OrdinalIgnoreCase)));
        if (secondary)
        {
            // GitHub: without Retry-After wait at least a minute, then back off exponentially.
            return new Wait(options.SecondaryLimitWait * Math.Pow(2, attempt), NamedByGitHub: false);
        }

        return null;
    }

    private static string? Header(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault()?.Trim() : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub rate limit on {Method} {Path} ({Status}): waiting {Delay} before retry {Attempt}")]
    private static partial void LogWaiting(ILogger logger, HttpMethod method, string? path, int status, TimeSpan delay, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub rate limit on {Method} {Path} ({Status}) asks to wait {Delay}, more than {MaxWait}: failing so the job retries later")]
    private static partial void LogTooLong(ILogger logger, HttpMethod method, string? path, int status, TimeSpan delay, TimeSpan maxWait);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub rate limit on {Method} {Path} ({Status}) after {Retries} retries: giving up")]
    private static partial void LogGivingUp(ILogger logger, HttpMethod method, string? path, int status, int retries);
}
