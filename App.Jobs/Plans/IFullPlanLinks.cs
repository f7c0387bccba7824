namespace Ensemble.Jobs.Plans;

/// <summary>
/// Mints the link a check run gives to its plan's full rendering. Jobs depend on this; the web host serves the link
/// (<c>GET /plans/{token}</c>, App/FullPlan), so the two share only configuration.
/// </summary>
public interface IFullPlanLinks
{
    /// <summary>A signed, expiring URL for the plan JSON stored under <paramref name="artifactKey"/>; null when Ensemble has no public URL.</summary>
    string? UrlFor(string artifactKey);
}
