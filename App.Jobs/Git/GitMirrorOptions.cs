namespace Ensemble.Jobs.Git;

/// <summary>
/// Where mirrors live and where repositories are cloned from: the clone URL of <c>owner/repo</c> is
/// <c>{GitUrl}{owner}/{repo}.git</c> (<c>https://github.com/</c>, a GitHub Enterprise host, or <c>file:///…/</c> in tests).
/// </summary>
public sealed record GitMirrorOptions(string WorkDirectory, string GitUrl);
