using System.Text;

namespace Ensemble.Jobs.Git;

/// <summary>
/// Hands an installation token to git without putting it in a URL or an argument: an HTTP Authorization header
/// set through <c>GIT_CONFIG_COUNT</c>/<c>GIT_CONFIG_KEY_n</c>/<c>GIT_CONFIG_VALUE_n</c>, which only the process
/// owner can read. The header is scoped to the git base URL (as actions/checkout does). Known limit: curl drops it on
/// a redirect to another host, but once git has followed the initial redirect (<c>http.followRedirects=initial</c>,
/// git's default) its later requests go to the new base with the header. GitHub redirects renamed repositories to
/// itself; <c>http.followRedirects=false</c> would close the gap at the cost of breaking those fetches.
/// </summary>
internal sealed record GitCredentials(IReadOnlyDictionary<string, string> Environment, IReadOnlyList<string> Secrets)
{
    public static readonly GitCredentials None = new(new Dictionary<string, string>(), []);

    public static GitCredentials ForToken(string gitUrl, string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return None;
        }

        // GitHub's documented form for installation tokens over HTTPS: basic auth with user "x-access-token".
        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"x-access-token:{token}"));
        var environment = new Dictionary<string, string>
        {
            ["GIT_CONFIG_COUNT"] = "1",
            ["GIT_CONFIG_KEY_0"] = $"http.{gitUrl}.extraHeader",
            ["GIT_CONFIG_VALUE_0"] = $"Authorization: Basic {basic}",
        };
        return new GitCredentials(environment, [token, basic, Uri.EscapeDataString(token)]);
    }
}
