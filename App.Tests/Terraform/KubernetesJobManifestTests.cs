using Ensemble.Jobs.Terraform;
using k8s;

namespace Ensemble.Tests.Terraform;

public sealed class KubernetesJobManifestTests
{
    private static KubernetesJobSpec Spec(string? cpus = null, int? memory = null) => new(
        "ensemble-tf-abc",
        "hashicorp/terraform:1.9.8",
        "/var/ens",
        "/var/ens/workspaces/run-1-1",
        "/var/ens/workspaces/run-1-1/src/envs/prod",
        ["plan", "-out=/var/ens/workspaces/run-1-1/out/plan.tfplan"],
        TerraformEnvironment.Build(n => n == "PATH" ? "/usr/bin" : null, new Dictionary<string, string> { ["AWS_SECRET_ACCESS_KEY"] = "s3cr3t-value" }, "/var/ens/workspaces/run-1-1/home", "/var/ens/workspaces/run-1-1/tmp"),
        new KubernetesRunnerOptions { Namespace = "tf", WorkVolumeClaim = "ensemble-work" },
        TimeSpan.FromMinutes(30),
        cpus,
        memory);

    [Fact]
    public void Build_Job_MountsOnlyTheWorkspaceOfTheSharedVolume()
    {
        var (job, _) = KubernetesJobManifest.Build(Spec());

        var pod = job.Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);
        var work = Assert.Single(container.VolumeMounts, m => m.Name == "work");
        Assert.Equal("/var/ens/workspaces/run-1-1", work.MountPath);
        Assert.Equal("workspaces/run-1-1", work.SubPath);
        Assert.Equal("ensemble-work", Assert.Single(pod.Volumes, v => v.Name == "work").PersistentVolumeClaim.ClaimName);
        Assert.Equal("/var/ens/workspaces/run-1-1/src/envs/prod", container.WorkingDir);
        Assert.Equal(["plan", "-out=/var/ens/workspaces/run-1-1/out/plan.tfplan"], container.Args);
        Assert.Equal("tf", job.Metadata.NamespaceProperty);
    }

    [Fact]
    public void Build_SecretValues_OnlyInTheSecretNeverInTheJob()
    {
        var (job, secret) = KubernetesJobManifest.Build(Spec());

        var jobJson = KubernetesJson.Serialize(job);
        Assert.DoesNotContain("s3cr3t-value", jobJson);
        Assert.Equal("s3cr3t-value", secret.StringData["AWS_SECRET_ACCESS_KEY"]);
        var env = job.Spec.Template.Spec.Containers[0].Env;
        var aws = Assert.Single(env, e => e.Name == "AWS_SECRET_ACCESS_KEY");
        Assert.Equal(("ensemble-tf-abc", "AWS_SECRET_ACCESS_KEY"), (aws.ValueFrom.SecretKeyRef.Name, aws.ValueFrom.SecretKeyRef.Key));
        Assert.Equal("/var/ens/workspaces/run-1-1/home", Assert.Single(env, e => e.Name == "HOME").Value);
        Assert.DoesNotContain(env, e => e.Name == "PATH");
    }

    [Fact]
    public void Build_Job_NeverRetriedAndLimitedByTimeout()
    {
        var (job, _) = KubernetesJobManifest.Build(Spec());

        Assert.Equal(0, job.Spec.BackoffLimit);
        Assert.Equal(1800, job.Spec.ActiveDeadlineSeconds);
        Assert.Equal("Never", job.Spec.Template.Spec.RestartPolicy);
    }

    [Fact]
    public void Build_Pod_HardenedWithoutApiToken()
    {
        var (job, _) = KubernetesJobManifest.Build(Spec());

        var pod = job.Spec.Template.Spec;
        Assert.False(pod.AutomountServiceAccountToken);
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        var security = pod.Containers[0].SecurityContext;
        Assert.False(security.AllowPrivilegeEscalation);
        Assert.True(security.ReadOnlyRootFilesystem);
        Assert.Equal(["ALL"], security.Capabilities.Drop);
    }

    [Fact]
    public void Build_Limits_FromOptions()
    {
        var (job, _) = KubernetesJobManifest.Build(Spec("2", 4096));

        var limits = job.Spec.Template.Spec.Containers[0].Resources.Limits;
        Assert.Equal("2", limits["cpu"].ToString());
        Assert.Equal("4Gi", limits["memory"].ToString());
        Assert.Null(KubernetesJobManifest.Build(Spec()).Job.Spec.Template.Spec.Containers[0].Resources);
    }
}
