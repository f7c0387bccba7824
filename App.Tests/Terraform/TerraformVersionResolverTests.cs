using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

public sealed class TerraformVersionResolverTests
{
    private static readonly Dictionary<string, string> Configured = new()
    {
        ["1.9.8"] = "/opt/tf/1.9.8/terraform",
        ["1.5.7"] = "/opt/tf/1.5.7/terraform",
        ["1.11.0"] = "/opt/tf/1.11.0/terraform",
        ["tofu-1.8.0"] = "/opt/tofu/1.8.0/tofu",
    };

    private static VersionHints Hints(string? over = null, string? file = null, params string[] required) => new(
        over is null ? null : new VersionRequest(over, ".ensemble.yml"),
        file is null ? null : new VersionRequest(file, "envs/prod/.terraform-version"),
        [.. required.Select(r => new VersionRequest(r, "envs/prod/versions.tf"))]);

    [Theory]
    [InlineData(null, null, new string[0], "/usr/bin/terraform")]
    [InlineData("1.5.7", "1.9.8", new[] { ">= 1.9" }, "/opt/tf/1.5.7/terraform")]
    [InlineData(null, "1.9.8", new[] { ">= 1.10" }, "/opt/tf/1.9.8/terraform")]
    [InlineData(null, "v1.5.7\n", new string[0], "/opt/tf/1.5.7/terraform")]
    [InlineData(null, null, new[] { ">= 1.5, < 1.10" }, "/opt/tf/1.9.8/terraform")]
    [InlineData(null, null, new[] { "~> 1.5.0" }, "/opt/tf/1.5.7/terraform")]
    [InlineData(null, null, new[] { ">= 1.5", "< 1.9" }, "/opt/tf/1.5.7/terraform")]
    [InlineData("tofu-1.8.0", null, new string[0], "/opt/tofu/1.8.0/tofu")]
    [InlineData("tofu 1.8.0", null, new string[0], "/opt/tofu/1.8.0/tofu")]
    [InlineData(null, "latest", new string[0], "/opt/tf/1.11.0/terraform")]
    [InlineData(null, "latest:^1\\.9", new string[0], "/opt/tf/1.9.8/terraform")]
    [InlineData(null, "min-required", new[] { ">= 1.6" }, "/opt/tf/1.9.8/terraform")]
    [InlineData(null, "latest-allowed", new[] { "< 1.10" }, "/opt/tf/1.9.8/terraform")]
    [InlineData("~> 1.9", null, new string[0], "/opt/tf/1.11.0/terraform")]
    public void Resolve_Precedence_PicksConfiguredTool(string? over, string? file, string[] required, string expected)
    {
        var result = TerraformVersionResolver.Resolve(Hints(over, file, required), Configured, "/usr/bin/terraform");

        Assert.Null(result.Error);
        Assert.Equal(expected, result.Tool!.Executable);
    }

    [Fact]
    public void Resolve_RequestedVersionNotConfigured_FailsNamingSourceAndConfigured()
    {
        var result = TerraformVersionResolver.Resolve(Hints(file: "1.7.5"), Configured, "/usr/bin/terraform");

        Assert.Null(result.Tool);
        Assert.Equal("terraform 1.7.5 is required by envs/prod/.terraform-version but not configured; configured: 1.11.0, 1.9.8, 1.5.7, tofu-1.8.0.", result.Error);
    }

    [Fact]
    public void Resolve_ExactVersionWithNothingConfigured_FailsRatherThanRunningTheDefault()
    {
        var result = TerraformVersionResolver.Resolve(Hints(file: "1.9.8"), new Dictionary<string, string>(), "/usr/bin/terraform");

        Assert.Null(result.Tool);
        Assert.Contains("Terraform:Versions:", result.Error);
    }

    [Fact]
    public void Resolve_RequiredVersionWithNothingConfigured_UsesTheDefaultBinary()
    {
        // Version selection is off: terraform itself still enforces required_version.
        var result = TerraformVersionResolver.Resolve(Hints(required: ">= 1.5"), new Dictionary<string, string>(), "terraform");

        Assert.Equal(new TerraformTool("default", "terraform"), result.Tool);
    }

    [Fact]
    public void Resolve_NoConfiguredVersionSatisfiesRequired_Fails()
    {
        var result = TerraformVersionResolver.Resolve(Hints(required: ">= 2.0"), Configured, "terraform");

        Assert.Contains("No configured terraform version satisfies \">= 2.0\" (envs/prod/versions.tf)", result.Error);
    }

    [Fact]
    public void Resolve_TofuRequestedButOnlyTerraformConfigured_Fails()
    {
        var result = TerraformVersionResolver.Resolve(Hints("tofu-1.9.0"), Configured, "terraform");

        Assert.StartsWith("OpenTofu 1.9.0 is required by .ensemble.yml but not configured", result.Error);
    }

    [Fact]
    public void Resolve_InvalidConfiguredKey_Fails()
    {
        var result = TerraformVersionResolver.Resolve(VersionHints.None, new Dictionary<string, string> { ["stable"] = "/x" }, "terraform");

        Assert.Contains("Terraform:Versions:stable is not a version", result.Error);
    }

    [Fact]
    public void Resolve_UnreadableVersionFile_Fails()
    {
        var result = TerraformVersionResolver.Resolve(Hints(file: "one point nine"), Configured, "terraform");

        Assert.StartsWith("envs/prod/.terraform-version: cannot read \"one point nine\"", result.Error);
    }

    [Fact]
    public void Resolve_ImageTemplate_ServesUnlistedTerraformVersion()
    {
        var result = TerraformVersionResolver.Resolve(Hints(file: "1.7.5"), new Dictionary<string, string>(), "unused", "hashicorp/terraform:{version}");

        Assert.Equal("hashicorp/terraform:1.7.5", result.Tool!.Executable);
    }

    [Fact]
    public void Resolve_ImageTemplateWithoutVersionInfo_UsesLatestTag()
    {
        var result = TerraformVersionResolver.Resolve(VersionHints.None, new Dictionary<string, string>(), "unused", "hashicorp/terraform:{version}");

        Assert.Equal("hashicorp/terraform:latest", result.Tool!.Executable);
    }

    [Theory]
    [InlineData("terraform {\n  required_version = \">= 1.5, < 2.0\"\n}\n", new[] { ">= 1.5, < 2.0" })]
    [InlineData("# required_version = \"1.0.0\"\nterraform { required_version = \"~> 1.9\" }", new[] { "~> 1.9" })]
    [InlineData("/* terraform { required_version = \"1.0.0\" } */", new string[0])]
    [InlineData("resource \"x\" \"y\" {}", new string[0])]
    public void FindRequiredVersions_ReadsUncommentedConstraints(string hcl, string[] expected) =>
        Assert.Equal(expected, TerraformVersionResolver.FindRequiredVersions(hcl));

    [Fact]
    public void ReadHints_ProjectFiles_CollectsVersionFileAndConstraints()
    {
        var dir = Directory.CreateTempSubdirectory("ens-hints-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, ".terraform-version"), "1.7.5\n");
            File.WriteAllText(Path.Combine(dir, "versions.tf"), "terraform {\n  required_version = \">= 1.5\"\n}\n");

            var hints = TerraformVersionResolver.ReadHints(dir, "envs/prod", "  ");

            Assert.Null(hints.Override);
            Assert.Equal(new VersionRequest("1.7.5", "envs/prod/.terraform-version"), hints.VersionFile);
            Assert.Equal([new VersionRequest(">= 1.5", "envs/prod/versions.tf")], hints.RequiredVersions);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ReadHints_OpenTofuVersionFile_RequestsTofu()
    {
        var dir = Directory.CreateTempSubdirectory("ens-hints-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, ".opentofu-version"), "1.8.0");

            var hints = TerraformVersionResolver.ReadHints(dir, ".", null);

            Assert.Equal(new VersionRequest("tofu-1.8.0", ".opentofu-version"), hints.VersionFile);
            Assert.Equal("/opt/tofu/1.8.0/tofu", TerraformVersionResolver.Resolve(hints, Configured, "terraform").Tool!.Executable);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ReadHints_JsonAndTofuFiles_CountTheirRequiredVersion_TofuReplacesTfOfTheSameName()
    {
        var dir = Directory.CreateTempSubdirectory("ens-hints-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "main.tf.json"), "{\"terraform\": {\"required_version\": \"~> 1.9.0\"}}");
            File.WriteAllText(Path.Combine(dir, "versions.tf"), "terraform {\n  required_version = \">= 1.5\"\n}\n");
            File.WriteAllText(Path.Combine(dir, "versions.tofu"), "terraform {\n  required_version = \">= 1.8\"\n}\n");
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "required_version = \"0.1\"");

            var hints = TerraformVersionResolver.ReadHints(dir, "envs/prod", null);

            Assert.Equal(
                [new VersionRequest("~> 1.9.0", "envs/prod/main.tf.json"), new VersionRequest(">= 1.8", "envs/prod/versions.tofu")],
                hints.RequiredVersions);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void RootModuleFiles_TofuOverrides_AndNonConfigurationFilesSkipped()
    {
        Assert.Equal(
            ["a.tf", "b.tofu", "c.tf", "c.tofu.json", "d.tofu.json"],
            TerraformVersionResolver.RootModuleFiles(["b.tf", "b.tofu", "a.tf", "c.tf", "c.tofu.json", "d.tf.json", "d.tofu.json", "README.md", "x.tfvars"]));
    }
}
