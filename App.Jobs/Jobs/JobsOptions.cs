namespace Ensemble.Jobs.Jobs;

/// <summary>Configuration section <c>Ensemble</c>.</summary>
public sealed class EnsembleOptions
{
    public const string Section = "Ensemble";

    /// <summary>Git mirrors, workspaces and the embedded state live here.</summary>
    public string WorkDirectory { get; set; } = "./.ensemble";

    /// <summary><c>all</c> (web + worker), <c>web</c> (webhooks, dashboard, enqueue) or <c>worker</c> (runs jobs).</summary>
    public string Role { get; set; } = "all";

    /// <summary>The URL GitHub and people reach Ensemble at, for links in check runs. Optional.</summary>
    public string? PublicUrl { get; set; }

    /// <summary>Hangfire worker threads in this process (terraform runs in parallel up to this many).</summary>
    public int Workers { get; set; } = Math.Max(2, Environment.ProcessorCount * 2);

    /// <summary>
    /// Terraform runs of one repository at a time, across all workers (plans and post-merge plans); 0 = no cap. Keeps a
    /// monorepo's huge pull request from taking every worker from the other repositories.
    /// </summary>
    public int MaxRunsPerRepository { get; set; } = 8;

    /// <summary>
    /// How long a job of a worker that stopped answering stays invisible before another worker takes it over (Hangfire's
    /// sliding invisibility timeout: a live worker keeps extending it, every fifth of it, so long plans are not
    /// affected). One minute, not Hangfire.PostgreSql's 5: it also bounds how long a job waits when a worker claimed it
    /// but never learnt so (the connection broke before the fetch's answer arrived).
    /// </summary>
    public TimeSpan JobInvisibilityTimeout { get; set; } = TimeSpan.FromMinutes(1);

    public bool RunsWeb => Role is "all" or "web";
    public bool RunsWorker => Role is "all" or "worker";
}
