using System.Security.Cryptography;
using System.Text;
using Ensemble.Jobs.State;

namespace Ensemble.Jobs.Core;

/// <summary>What to do with a freshly rendered view of a GitHub object (check run, comment).</summary>
public enum PublishDecision
{
    /// <summary>Send it now.</summary>
    Publish,

    /// <summary>GitHub already shows exactly this.</summary>
    Skip,

    /// <summary>An interim view replacing another interim view too soon: send it later (a scheduled catch-up).</summary>
    Defer,
}

/// <summary>
/// Decides which updates reach GitHub (API economy). Pure. Three rules: an identical view is never sent twice; interim
/// views (planning in progress, applies still running) replace each other at most once per interval, the latest one
/// following by a catch-up; a final view is always sent at once. So a final state (a failure, the merge gate turning
/// green or red) never waits, and an interim view never hides behind a final one.
/// </summary>
public static class PublishGate
{
    public static PublishDecision Decide(PublishedMemo? last, string digest, bool interim, DateTimeOffset now, TimeSpan interval)
    {
        if (last is null)
        {
            return PublishDecision.Publish;
        }

        if (string.Equals(last.Digest, digest, StringComparison.Ordinal))
        {
            return PublishDecision.Skip;
        }

        return interim && last.Interim && now - last.PublishedAt < interval ? PublishDecision.Defer : PublishDecision.Publish;
    }

    /// <summary>
    /// Whether any interim view would be deferred now, whatever it shows: the last one sent was interim and is younger
    /// than the interval. Lets a caller who knows its next view is interim skip rendering it.
    /// </summary>
    public static bool DefersAnyInterim(PublishedMemo? last, DateTimeOffset now, TimeSpan interval) =>
        last is { Interim: true } && now - last.PublishedAt < interval;

    /// <summary>When a deferred view should be sent: one interval after the last publish.</summary>
    public static DateTimeOffset DueAt(PublishedMemo last, TimeSpan interval) => last.PublishedAt + interval;

    /// <summary>A stable digest of the parts of a view a person sees.</summary>
    public static string Digest(params string?[] parts)
    {
        var text = string.Join('\u001f', parts.Select(p => p ?? "\u0000"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
