using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

public sealed class DockerCommandTests
{
    private static readonly IReadOnlyDictionary<string, string> TerraformEnv = TerraformEnvironment.Build(
        n => n == "PATH" ? "/usr/bin" : null,
        new Dictionary<string, string> { ["AWS_SECRET_ACCESS_KEY"] = "s3cr3t-value" },
        "/var/ens/workspaces/run-1-1/home",
        "/var/ens/workspaces/run-1-1/tmp");

    private static IReadOnlyList<string> Build(string? cpus = null, int? memory = null)
    {
        var (_, names) = DockerCommand.Environment(TerraformEnv, n => n switch { "PATH" => "/usr/bin", "HOME" => "/root", _ => null });
        return DockerCommand.Build(new DockerSpec(
            "docker", "ensemble-tf-1", "hashicorp/terraform:1.9.8", "1000:1000", "/var/ens/workspaces/run-1-1",
            "/var/ens/workspaces/run-1-1/src/envs/prod", ["plan", "-out=/var/ens/workspaces/run-1-1/out/plan.tfplan"], names, cpus, memory));
    }

    [Fact]
    public void Build_Run_MountsOnlyTheWorkspaceAtTheSamePath()
    {
        var args = Build();

        Assert.Equal(["docker", "run", "--rm", "--name", "ensemble-tf-1"], args.Take(5));
        Assert.Single(args, a => a == "--volume");
        Assert.Contains("/var/ens/workspaces/run-1-1:/var/ens/workspaces/run-1-1:rw", args);
        Assert.Equal("/var/ens/workspaces/run-1-1/src/envs/prod", args[args.ToList().IndexOf("--workdir") + 1]);
        Assert.Equal("1000:1000", args[args.ToList().IndexOf("--user") + 1]);
        Assert.Equal(["hashicorp/terraform:1.9.8", "plan", "-out=/var/ens/workspaces/run-1-1/out/plan.tfplan"], args.TakeLast(3));
    }

    [Fact]
    public void Build_Environment_PassedByNameOnly()
    {
        var args = Build();

        var names = args.Select((a, i) => (a, i)).Where(x => x.a == "--env").Select(x => args[x.i + 1]).ToList();
        Assert.Contains("AWS_SECRET_ACCESS_KEY", names);
        Assert.Contains("HOME", names);
        Assert.DoesNotContain("PATH", names);
        Assert.All(names, n => Assert.DoesNotContain('=', n));
        Assert.DoesNotContain(args, a => a.Contains("s3cr3t-value", StringComparison.Ordinal));
    }

    [Fact]
    public void Environment_Client_CarriesValuesAndFindsItsOwnConfiguration()
    {
        var (client, _) = DockerCommand.Environment(TerraformEnv, n => n switch { "PATH" => "/usr/bin", "HOME" => "/root", "DOCKER_HOST" => "unix:///run/docker.sock", _ => null });

        Assert.Equal("s3cr3t-value", client["AWS_SECRET_ACCESS_KEY"]);
        Assert.Equal("unix:///run/docker.sock", client["DOCKER_HOST"]);
        Assert.Equal("/root/.docker", client["DOCKER_CONFIG"]);
        Assert.Equal("/var/ens/workspaces/run-1-1/home", client["HOME"]);
    }

    [Fact]
    public void Build_Limits_FromOptions()
    {
        var args = Build(cpus: "1.5", memory: 2048);

        Assert.Equal("1.5", args[args.ToList().IndexOf("--cpus") + 1]);
        Assert.Equal("2048m", args[args.ToList().IndexOf("--memory") + 1]);
        Assert.DoesNotContain("--cpus", Build());
    }

    [Fact]
    public void Build_Hardening_DropsCapabilitiesAndKeepsRootReadOnly()
    {
        var args = Build();

        Assert.Contains("--read-only", args);
        Assert.Contains("--init", args);
        Assert.Equal("ALL", args[args.ToList().IndexOf("--cap-drop") + 1]);
        Assert.DoesNotContain("--privileged", args);
    }
}
