using Ensemble.Jobs.Git;

namespace Ensemble.Tests.Git;

[Trait("Category", "Integration")] // runs the real git CLI
[Collection(ProcessEnvironmentCollection.Name)]
public sealed class GitProcessTests
{
    [Fact]
    public async Task RunCheckedAsync_ErrorEchoesASecret_MessageMasksIt()
    {
        // git echoes an unknown revision back; here that revision is the secret itself.
        var command = new GitCommand(["rev-parse", "--verify", "--end-of-options", "ghs_SECRET123"])
        {
            WorkingDirectory = Path.GetTempPath(),
            GitDirectory = Path.Combine(Path.GetTempPath(), "ensemble-no-such-repo"),
            Secrets = ["ghs_SECRET123"],
        };

        var error = await Assert.ThrowsAsync<GitException>(() => GitProcess.RunCheckedAsync(command, CancellationToken.None));

        Assert.DoesNotContain("ghs_SECRET123", error.Message, StringComparison.Ordinal);
        Assert.Contains("***", error.Message, StringComparison.Ordinal);
        Assert.Contains("rev-parse", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_InheritedGitEnvironment_IsNotHonoured()
    {
        // Inherited GIT_* variables (GIT_DIR, GIT_CONFIG_PARAMETERS, GIT_TRACE_CURL) could redirect git, inject
        // config or dump the Authorization header; none may reach the git Ensemble runs.
        Environment.SetEnvironmentVariable("GIT_CONFIG_PARAMETERS", "'user.name=Injected'");
        try
        {
            var result = await GitProcess.RunAsync(new GitCommand(["config", "--get", "user.name"]) { WorkingDirectory = Path.GetTempPath() }, CancellationToken.None);

            Assert.DoesNotContain("Injected", result.OutputText, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("GIT_CONFIG_PARAMETERS", null);
        }
    }
}

/// <summary>Tests that change this process's environment run alone: every process started meanwhile would inherit it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection
{
    public const string Name = "Process environment";
}
