using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Core;

public sealed class TerraformEnvironmentTests
{
    [Fact]
    public void Build_HostEnvironment_OnlyAllowlistPassesThrough()
    {
        var host = new Dictionary<string, string>
        {
            ["PATH"] = "/usr/bin",
            ["GitHub__WebhookSecret"] = "secret",
            ["GitHub__PrivateKey"] = "pem",
            ["Database__ConnectionString"] = "Host=db;Password=x",
            ["AWS_SECRET_ACCESS_KEY"] = "host-credentials",
            ["HOME"] = "/root",
        };

        var env = TerraformEnvironment.Build(n => host.GetValueOrDefault(n), new Dictionary<string, string>(), "/ws/home", "/ws/tmp");

        Assert.Equal("/usr/bin", env["PATH"]);
        Assert.Equal("/ws/home", env["HOME"]);
        Assert.Equal("/ws/tmp", env["TMPDIR"]);
        Assert.Equal("1", env["TF_IN_AUTOMATION"]);
        Assert.Equal("0", env["TF_INPUT"]);
        Assert.DoesNotContain(env.Values, v => v is "secret" or "pem" or "Host=db;Password=x" or "host-credentials");
    }

    [Fact]
    public void Build_ConfiguredProviderVariables_Passed()
    {
        var env = TerraformEnvironment.Build(_ => null, new Dictionary<string, string> { ["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/plan" }, "/h", "/t");

        Assert.Equal("arn:aws:iam::1:role/plan", env["AWS_ROLE_ARN"]);
    }
}
