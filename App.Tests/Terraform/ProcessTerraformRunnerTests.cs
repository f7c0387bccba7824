using System.Diagnostics;
using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

/// <summary>The weaker runner: environment scrubbed, files not hidden (docs/runners.md says so; these keep it true).</summary>
public sealed class ProcessTerraformRunnerTests : IDisposable
{
    private readonly RunnerSandbox _box = new();

    private ProcessTerraformRunner Runner(TimeSpan? timeout = null)
    {
        var options = _box.Options(TerraformRunnerFactory.Process);
        if (timeout is { } t)
        {
            options.Timeout = t;
        }

        return new ProcessTerraformRunner(options);
    }

    [Fact]
    public async Task RunAsync_HostilePlan_SeesNoSecretVariableButCanReadFiles()
    {
        _box.WriteHostileProject();
        var runner = Runner();

        await RunnerSandbox.RunAsync(runner, _box.Invocation("init", "-input=false", "-no-color"));
        var (result, output) = await RunnerSandbox.RunAsync(runner, _box.Plan());

        Assert.True(result.ExitCode == 2, output);
        Assert.Contains("sim_probe.key: observed_env=\"(unset)\"", output);
        Assert.DoesNotContain(RunnerSandbox.SecretValue, output);
        // Documented weakness: no filesystem isolation.
        Assert.Contains("sim_probe.key: observed_file=\"fake private key\"", output);
        Assert.Contains("sim_probe.settings: observed_file=", output);
        Assert.DoesNotContain("sim_probe.settings: observed_file=\"(unreadable)\"", output);
        Assert.True(File.Exists(_box.PlanFile));
    }

    [Fact]
    public async Task RunAsync_ConfiguredVariable_ReachesTerraform()
    {
        File.WriteAllText(Path.Combine(_box.Source, "main.tf"), "resource \"sim_probe\" \"p\" {\n  env = \"AWS_ROLE_ARN\"\n}\n");
        var options = _box.Options(TerraformRunnerFactory.Process);
        options.Environment["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/plan";
        var runner = new ProcessTerraformRunner(options);

        await RunnerSandbox.RunAsync(runner, _box.Invocation("init", "-input=false"));
        var (_, output) = await RunnerSandbox.RunAsync(runner, _box.Plan());

        Assert.Contains("sim_probe.p: observed_env=\"arn:aws:iam::1:role/plan\"", output);
    }

    [Fact]
    public async Task RunAsync_Cancelled_ThrowsAndLeavesNoProcess()
    {
        _box.WriteSlowProject(30);
        var runner = Runner();
        var init = await RunnerSandbox.RunAsync(runner, _box.Invocation("init", "-input=false"));
        Assert.True(init.Result.ExitCode == 0, init.Output);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var watch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RunnerSandbox.RunAsync(runner, _box.Plan(), cts.Token));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        await ProcessAssert.NoneMentionAsync(_box.Workspace);
    }

    [Fact]
    public async Task RunAsync_Timeout_ReportsTimedOut()
    {
        _box.WriteSlowProject(30);
        var init = await RunnerSandbox.RunAsync(Runner(), _box.Invocation("init", "-input=false"));
        Assert.True(init.Result.ExitCode == 0, init.Output);
        var runner = Runner(TimeSpan.FromSeconds(2));

        var (result, output) = await RunnerSandbox.RunAsync(runner, _box.Plan());

        Assert.True(result.TimedOut, output);
        Assert.Equal(-1, result.ExitCode);
        Assert.Contains("did not finish within", output);
        await ProcessAssert.NoneMentionAsync(_box.Workspace);
    }

    [Fact]
    public async Task RunAsync_ToolFromResolver_RunsThatExecutable()
    {
        var runner = new ProcessTerraformRunner(new TerraformOptions { Binary = "/nonexistent/default-terraform" });
        var invocation = _box.Invocation("version") with { Tool = new TerraformTool("1.9.8", _box.Options("process").Binary) };

        var (result, output) = await RunnerSandbox.RunAsync(runner, invocation);

        Assert.True(result.ExitCode == 0, output);
    }

    public void Dispose() => _box.Dispose();
}
