using System.Diagnostics;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Ensemble.Bench.WebhookLoad;

/// <summary>One request's fate. Latency runs from the intended send time (open loop) or the actual one (closed loop).</summary>
public readonly record struct Sample(string DeliveryId, int Status, double LatencyMs, string? Error)
{
    public bool Accepted => Status is >= 200 and < 300;
}

/// <summary>Sends a GitHub-shaped delivery: the real payload, signed like GitHub signs it, with a chosen delivery id.</summary>
public sealed class WebhookSender(HttpClient client, byte[] payload, byte[] secret)
{
    public const string Path = "/api/github/webhooks";
    private static readonly MediaTypeHeaderValue Json = new("application/json") { CharSet = "utf-8" };

    /// <summary><paramref name="startTicks"/> is the Stopwatch timestamp latency is measured from.</summary>
    public async Task<Sample> SendAsync(Uri baseUri, string deliveryId, long startTicks)
    {
        try
        {
            // Signed per request, as GitHub does, although the body is the same: the cost belongs to the sender.
            var signature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(secret, payload));
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUri, Path))
            {
                Content = new ByteArrayContent(payload) { Headers = { ContentType = Json } },
            };
            request.Headers.Add("X-GitHub-Event", "pull_request");
            request.Headers.Add("X-GitHub-Delivery", deliveryId);
            request.Headers.Add("X-Hub-Signature-256", signature);
            request.Headers.UserAgent.ParseAdd("GitHub-Hookshot/bench");
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            return new Sample(deliveryId, (int)response.StatusCode, ElapsedMs(startTicks), null);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return new Sample(deliveryId, 0, ElapsedMs(startTicks), e.GetType().Name + ": " + e.Message);
        }
    }

    private static double ElapsedMs(long startTicks) => Stopwatch.GetElapsedTime(startTicks).TotalMilliseconds;

    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };
}
