namespace Ensemble.Bench.WebhookLoad;

/// <summary>
/// The baseline: the same route over the same Kestrel, reading the whole body and answering 202 — no signature,
/// no JSON, no database. Whatever the App costs beyond this is the ingress path itself.
/// </summary>
public static class BareEndpoint
{
    public static async Task RunAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/api/github/webhooks", async (HttpRequest request) =>
        {
            // Drain the body as the App must, so the comparison is not just "who skipped the 26 KB".
            await request.Body.CopyToAsync(Stream.Null, request.HttpContext.RequestAborted);
            return Results.StatusCode(StatusCodes.Status202Accepted);
        });
        app.MapGet("/healthz", () => Results.Ok("ok"));
        await app.RunAsync();
    }
}
