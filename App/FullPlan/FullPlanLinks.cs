using System.Globalization;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Plans;

namespace Ensemble.App.FullPlan;

/// <summary>
/// Where full-plan links point and how they are signed, read from configuration:
/// <c>Ensemble:PublicUrl</c> (no links without it), <c>Ensemble:LinkSigningKey</c> (optional; otherwise the key is derived
/// from <c>GitHub:WebhookSecret</c>, so rotating that secret invalidates every link already posted) and
/// <c>Ensemble:PlanLinkLifetime</c> (a TimeSpan such as <c>30.00:00:00</c>; default 30 days, as check runs stay visible for long).
/// </summary>
public sealed record FullPlanLinkSettings(string? PublicUrl, byte[] Key, TimeSpan Lifetime)
{
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(30);

    public static FullPlanLinkSettings From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var secret = configuration["Ensemble:LinkSigningKey"] is { Length: > 0 } own ? own : configuration["GitHub:WebhookSecret"];
        if (string.IsNullOrEmpty(secret))
        {
            throw new InvalidOperationException("Full-plan links need Ensemble:LinkSigningKey or GitHub:WebhookSecret to sign with; neither is set.");
        }

        var lifetime = DefaultLifetime;
        if (configuration["Ensemble:PlanLinkLifetime"] is { Length: > 0 } text
            && (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out lifetime) || lifetime <= TimeSpan.Zero))
        {
            throw new InvalidOperationException($"Ensemble:PlanLinkLifetime '{text}' is not a positive TimeSpan (e.g. 30.00:00:00 for 30 days).");
        }

        var publicUrl = configuration["Ensemble:PublicUrl"] is { Length: > 0 } url ? url.TrimEnd('/') : null;
        return new FullPlanLinkSettings(publicUrl, SignedLinks.DeriveKey(secret), lifetime);
    }
}

/// <summary>Mints and checks the signed, expiring links to a stored plan's full rendering (<c>GET /plans/{token}</c>).</summary>
public sealed class FullPlanLinks(FullPlanLinkSettings settings, TimeProvider time) : IFullPlanLinks
{
    public TimeSpan Lifetime => settings.Lifetime;

    /// <summary>
    /// The absolute link to the full plan stored under <paramref name="artifactKey"/> (a <c>plan.json</c> key), valid for
    /// <see cref="Lifetime"/> from now; null when <c>Ensemble:PublicUrl</c> is not configured, as no one could open it.
    /// </summary>
    public string? UrlFor(string artifactKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(artifactKey);
        if (settings.PublicUrl is null)
        {
            return null;
        }

        return $"{settings.PublicUrl}{FullPlanEndpoint.PathPrefix}{SignedLinks.Create(settings.Key, artifactKey, time.GetUtcNow() + settings.Lifetime)}";
    }

    public LinkCheck Verify(string token) => SignedLinks.Verify(settings.Key, token, time.GetUtcNow());
}
