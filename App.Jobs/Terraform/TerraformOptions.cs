namespace Ensemble.Jobs.Terraform;

/// <summary>Configuration section <c>Terraform</c> (DESIGN.md, docs/runners.md). Binary may be <c>terraform</c>, <c>tofu</c> or the stand-in.</summary>
public sealed class TerraformOptions
{
    public const string Section = "Terraform";

    public string Binary { get; set; } = "terraform";

    /// <summary><c>sandbox</c>, <c>process</c>, <c>docker</c> or <c>kubernetes</c>; empty = sandbox where bwrap exists, else process.</summary>
    public string? Runner { get; set; }

    /// <summary>Image for docker/kubernetes; <c>{version}</c> is replaced by the resolved version. Default <c>hashicorp/terraform:{version}</c>.</summary>
    public string? Image { get; set; }

    public TimeSpan Timeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Variables given to terraform on top of the minimal allowlist — the provider credentials an operator chooses to
    /// hand to plans (e.g. <c>Terraform:Environment:AWS_ROLE_ARN</c>). Their values are masked in every log and check run.
    /// Nothing else of Ensemble's own environment reaches terraform.
    /// </summary>
    public Dictionary<string, string> Environment { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Installed versions: <c>Terraform:Versions:1.9.8=/opt/tf/1.9.8/terraform</c>, <c>Terraform:Versions:tofu-1.8.0=…</c>.
    /// For docker/kubernetes the value is an image reference. Empty = version selection off (always <see cref="Binary"/>).
    /// </summary>
    public Dictionary<string, string> Versions { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Extra host paths the sandbox shows read-only (e.g. a certificate bundle outside /etc). Never the work directory.</summary>
    public List<string> ReadOnlyPaths { get; set; } = [];

    /// <summary>CPU limit for docker/kubernetes runs, e.g. <c>2</c> or <c>0.5</c>; empty = none.</summary>
    public string? Cpus { get; set; }

    /// <summary>Memory limit in MiB for docker/kubernetes runs; null = none.</summary>
    public int? MemoryMiB { get; set; }

    /// <summary>The container engine's command-line client for the docker runner (docker or podman).</summary>
    public string DockerBinary { get; set; } = "docker";

    public KubernetesRunnerOptions Kubernetes { get; set; } = new();
}

/// <summary><c>Terraform:Kubernetes</c>: where plan Jobs run and how they reach the workspace (docs/runners.md).</summary>
public sealed class KubernetesRunnerOptions
{
    /// <summary>Namespace for the Jobs; the RBAC in deploy/kubernetes/ grants rights in this one only.</summary>
    public string Namespace { get; set; } = "ensemble";

    /// <summary>ReadWriteMany PVC mounted at <c>Ensemble:WorkDirectory</c> in both Ensemble and the Jobs. Required.</summary>
    public string? WorkVolumeClaim { get; set; }

    /// <summary>Service account for the terraform pods (e.g. one bound to a cloud role); its token is mounted only if set.</summary>
    public string? ServiceAccount { get; set; }

    /// <summary>User and group id the terraform container runs as (must be able to write the shared volume).</summary>
    public long RunAsUser { get; set; } = 1000;

    public long RunAsGroup { get; set; } = 1000;

    /// <summary>Finished Jobs are garbage-collected after this many seconds.</summary>
    public int TtlSecondsAfterFinished { get; set; } = 600;
}
