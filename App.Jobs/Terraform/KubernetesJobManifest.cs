using System.Globalization;
using k8s.Models;

namespace Ensemble.Jobs.Terraform;

/// <summary>One terraform run as a Kubernetes Job.</summary>
/// <param name="Name">Job and Secret name (DNS label, unique per run).</param>
/// <param name="WorkDirectory"><c>Ensemble:WorkDirectory</c>, where the shared volume is mounted in Ensemble's own pod.</param>
/// <param name="Workspace">The run's workspace (inside the work directory); the only part of the volume the Job mounts.</param>
/// <param name="Environment">Terraform's environment; values go in the Secret, never in the Job.</param>
public sealed record KubernetesJobSpec(
    string Name,
    string Image,
    string WorkDirectory,
    string Workspace,
    string WorkingDirectory,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Environment,
    KubernetesRunnerOptions Options,
    TimeSpan Timeout,
    string? Cpus,
    int? MemoryMiB);

/// <summary>Builds the Job (and the Secret holding its environment) for one terraform run. Pure; see docs/runners.md.</summary>
public static class KubernetesJobManifest
{
    public const string ContainerName = "terraform";
    public const string RunLabel = "ensemble.dev/terraform-run";

    /// <summary>Variables whose values are fixed paths and switches, safe to show in the Job; every other value is kept in the Secret.</summary>
    public static readonly IReadOnlyList<string> PlainVariables = ["HOME", "TMPDIR", "TF_IN_AUTOMATION", "TF_INPUT", "CHECKPOINT_DISABLE", "TF_PLUGIN_CACHE_DIR"];

    public static (V1Job Job, V1Secret Secret) Build(KubernetesJobSpec spec)
    {
        var labels = new Dictionary<string, string> { ["app.kubernetes.io/name"] = "ensemble-terraform", [RunLabel] = spec.Name };
        var meta = new V1ObjectMeta { Name = spec.Name, NamespaceProperty = spec.Options.Namespace, Labels = labels };

        var secretData = new Dictionary<string, string>(StringComparer.Ordinal);
        var env = new List<V1EnvVar>();
        // The image keeps its own PATH.
        foreach (var (name, value) in spec.Environment.Where(e => e.Key != "PATH").OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (PlainVariables.Contains(name))
            {
                env.Add(new V1EnvVar { Name = name, Value = value });
            }
            else
            {
                secretData[name] = value;
                env.Add(new V1EnvVar
                {
                    Name = name,
                    ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = spec.Name, Key = name, Optional = false } },
                });
            }
        }

        var limits = new Dictionary<string, ResourceQuantity>();
        if (spec.Cpus is { Length: > 0 } cpus)
        {
            limits["cpu"] = new ResourceQuantity(cpus);
        }

        if (spec.MemoryMiB is { } memory)
        {
            limits["memory"] = new ResourceQuantity(string.Create(CultureInfo.InvariantCulture, $"{memory}Mi"));
        }

        var relative = Path.GetRelativePath(spec.WorkDirectory, spec.Workspace).Replace('\\', '/');
        var container = new V1Container
        {
            Name = ContainerName,
            Image = spec.Image,
            // The image's entrypoint is terraform (hashicorp/terraform) or tofu; these are its arguments.
            Args = [.. spec.Arguments],
            WorkingDir = spec.WorkingDirectory,
            Env = env,
            // Only this run's workspace, at the same path as in Ensemble's pod, so absolute -out= paths hold.
            VolumeMounts =
            [
                new V1VolumeMount { Name = "work", MountPath = spec.Workspace, SubPath = relative },
                new V1VolumeMount { Name = "tmp", MountPath = "/tmp" },
            ],
            Resources = limits.Count > 0 ? new V1ResourceRequirements { Limits = limits, Requests = limits } : null,
            SecurityContext = new V1SecurityContext
            {
                AllowPrivilegeEscalation = false,
                ReadOnlyRootFilesystem = true,
                Capabilities = new V1Capabilities { Drop = ["ALL"] },
            },
        };

        var pod = new V1PodSpec
        {
            RestartPolicy = "Never",
            ServiceAccountName = spec.Options.ServiceAccount,
            // No Kubernetes API credentials inside terraform unless an operator names a service account for it.
            AutomountServiceAccountToken = spec.Options.ServiceAccount is not null,
            EnableServiceLinks = false,
            SecurityContext = new V1PodSecurityContext
            {
                RunAsNonRoot = true,
                RunAsUser = spec.Options.RunAsUser,
                RunAsGroup = spec.Options.RunAsGroup,
                SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
            },
            Containers = [container],
            Volumes =
            [
                new V1Volume { Name = "work", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = spec.Options.WorkVolumeClaim } },
                new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() },
            ],
        };

        var job = new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = meta,
            Spec = new V1JobSpec
            {
                // Never retried by Kubernetes: Ensemble's jobs decide about retries (apply must not run twice).
                BackoffLimit = 0,
                ActiveDeadlineSeconds = (long)Math.Ceiling(spec.Timeout.TotalSeconds),
                TtlSecondsAfterFinished = spec.Options.TtlSecondsAfterFinished,
                Template = new V1PodTemplateSpec { Metadata = new V1ObjectMeta { Labels = labels }, Spec = pod },
            },
        };

        var secret = new V1Secret
        {
            ApiVersion = "v1",
            Kind = "Secret",
            Metadata = new V1ObjectMeta { Name = spec.Name, NamespaceProperty = spec.Options.Namespace, Labels = labels },
            Type = "Opaque",
            StringData = secretData,
        };
        return (job, secret);
    }
}
