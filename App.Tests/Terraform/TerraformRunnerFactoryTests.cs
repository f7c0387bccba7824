using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

public sealed class TerraformRunnerFactoryTests
{
    [Theory]
    [InlineData("process", typeof(ProcessTerraformRunner))]
    [InlineData("PROCESS", typeof(ProcessTerraformRunner))]
    [InlineData("docker", typeof(DockerTerraformRunner))]
    public void Create_NamedRunner_ReturnsIt(string runner, Type expected) =>
        Assert.IsType(expected, TerraformRunnerFactory.Create(new TerraformOptions { Runner = runner }, "/var/ens"));

    [Fact]
    public void Create_Kubernetes_ReturnsItWhenVolumeConfigured()
    {
        var options = new TerraformOptions { Runner = "kubernetes", Kubernetes = { WorkVolumeClaim = "work" } };

        Assert.IsType<KubernetesTerraformRunner>(TerraformRunnerFactory.Create(options, "/var/ens"));
    }

    [Fact]
    public void Create_UnknownRunner_ThrowsListingTheChoices()
    {
        var error = Assert.Throws<InvalidOperationException>(() => TerraformRunnerFactory.Create(new TerraformOptions { Runner = "podman" }, "/var/ens"));

        Assert.Contains("Terraform:Runner \"podman\" is not a runner; use one of: sandbox, process, docker, kubernetes", error.Message);
    }

    [Fact]
    public void Validate_KubernetesWithoutVolume_Explains()
    {
        var errors = TerraformRunnerFactory.Validate(new TerraformOptions { Runner = "kubernetes" }, "/var/ens");

        Assert.Contains(errors, e => e.Contains("Terraform:Kubernetes:WorkVolumeClaim", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_BadValues_AreAllReported()
    {
        var options = new TerraformOptions { Runner = "docker", Timeout = TimeSpan.Zero, Cpus = "two", MemoryMiB = 0 };
        options.Versions["stable"] = "/opt/tf";

        var errors = TerraformRunnerFactory.Validate(options, "/var/ens");

        Assert.Equal(4, errors.Count);
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void Validate_SandboxReadOnlyPathShowingWorkDirectory_IsRefused()
    {
        SandboxTerraformRunnerTests.RequireBubblewrap();
        var options = new TerraformOptions { Runner = "sandbox", ReadOnlyPaths = ["/var"] };

        var errors = TerraformRunnerFactory.Validate(options, "/var/ens");

        Assert.Contains(errors, e => e.Contains("would show /var/ens", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void EffectiveKind_Empty_IsSandboxWhereBubblewrapWorks()
    {
        SandboxTerraformRunnerTests.RequireBubblewrap();

        Assert.Equal("sandbox", TerraformRunnerFactory.EffectiveKind(new TerraformOptions()));
    }

    [Fact]
    public void ResolveTool_Docker_MapsVersionToImage()
    {
        var options = new TerraformOptions { Runner = "docker" };
        var hints = new VersionHints(null, new VersionRequest("1.9.8", ".terraform-version"), []);

        Assert.Equal("hashicorp/terraform:1.9.8", TerraformRunnerFactory.ResolveTool(options, hints).Tool!.Executable);
    }
}
