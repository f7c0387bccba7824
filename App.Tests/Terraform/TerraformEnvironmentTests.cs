using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

public sealed class TerraformEnvironmentTests
{
    [Fact]
    public void Build_HostSecrets_AreNotPassed()
    {
        var host = new Dictionary<string, string> { ["PATH"] = "/usr/bin", ["GitHub__PrivateKey"] = "k", ["Database__ConnectionString"] = "c", ["AWS_SECRET_ACCESS_KEY"] = "s" };

        var env = TerraformEnvironment.Build(n => host.GetValueOrDefault(n), new Dictionary<string, string>(), "/w/home", "/w/tmp");

        Assert.Equal("/usr/bin", env["PATH"]);
        Assert.DoesNotContain("GitHub__PrivateKey", env.Keys);
        Assert.DoesNotContain("Database__ConnectionString", env.Keys);
        Assert.DoesNotContain("AWS_SECRET_ACCESS_KEY", env.Keys);
        Assert.Equal("/w/home", env["HOME"]);
        Assert.Equal("/w/tmp", env["TMPDIR"]);
    }

    [Fact]
    public void Build_PluginCache_IsInsideTheRunsHome()
    {
        var env = TerraformEnvironment.Build(_ => null, new Dictionary<string, string>(), "/w/run-1-1/home", "/w/run-1-1/tmp");

        Assert.Equal("/w/run-1-1/home/.terraform.d/plugin-cache", env["TF_PLUGIN_CACHE_DIR"]);
    }
}
