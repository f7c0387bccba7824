namespace Ensemble.Jobs.Git;

/// <summary>A git command failed or git's answer was not what Ensemble needs. Messages never carry a token.</summary>
public sealed class GitException : Exception
{
    public GitException(string message) : base(message) { }

    public GitException(string message, Exception innerException) : base(message, innerException) { }

    public GitException(string message, int exitCode) : base(message) => ExitCode = exitCode;

    /// <summary>git's exit code when a command ran and failed; null when the failure was found by Ensemble.</summary>
    public int? ExitCode { get; }
}
