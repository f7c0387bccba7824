using System.Diagnostics;
using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

/// <summary>Runs the stand-in inside bubblewrap. Needs bubblewrap: CI installs it; a machine without it fails here.</summary>
[Trait("Category", "Integration")]
public sealed class SandboxTerraformRunnerTests : IDisposable
{
    private readonly RunnerSandbox _box = new();

    private SandboxTerraformRunner Runner(TimeSpan? timeout = null)
    {
        RequireBubblewrap();
        var options = _box.Options(TerraformRunnerFactory.Sandbox);
        if (timeout is { } t)
        {
            options.Timeout = t;
        }

        return new SandboxTerraformRunner(options, _box.WorkDirectory, "bwrap", _box.ProtectedPaths);
    }

    internal static void RequireBubblewrap()
    {
        var works = false;
        try
        {
            using var probe = Process.Start(new ProcessStartInfo("bwrap", ["--ro-bind", "/", "/", "true"]) { RedirectStandardError = true });
            works = probe is not null && probe.WaitForExit(10_000) && probe.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }

        Assert.True(works, "bubblewrap (bwrap) is missing or cannot create namespaces here: install it with `apt-get install bubblewrap` (.ci/run does) to run the sandbox tests.");
    }

    [Fact]
    public async Task RunAsync_HostilePlan_SeesNoSecretFileNorVariable()
    {
        _box.WriteHostileProject();
        var runner = Runner();

        var init = await RunnerSandbox.RunAsync(runner, _box.Invocation("init", "-input=false", "-no-color"));
        Assert.True(init.Result.ExitCode == 0, init.Output);
        var (result, output) = await RunnerSandbox.RunAsync(runner, _box.Plan());

        Assert.True(result.ExitCode == 2, output);
        foreach (var name in new[] { "key", "db", "other", "settings" })
        {
            Assert.Contains($"sim_probe.{name}: observed_file=\"(unreadable)\"", output);
        }

        Assert.Contains("sim_probe.key: observed_env=\"(unset)\"", output);
        Assert.DoesNotContain(RunnerSandbox.SecretValue, output);
        Assert.DoesNotContain("fake", output);
    }

    [Fact]
    public async Task RunAsync_Plan_WritesItsOwnWorkspaceIncludingOutDirectory()
    {
        _box.WriteHostileProject();
        var runner = Runner();

        await RunnerSandbox.RunAsync(runner, _box.Invocation("init", "-input=false", "-no-color"));
        var (result, output) = await RunnerSandbox.RunAsync(runner, _box.Plan());

        Assert.True(result.ExitCode == 2, output);
        Assert.Contains("sim_probe.own: observed_file=\"own content\"", output);
        Assert.True(File.Exists(_box.PlanFile), output);
        var show = await RunnerSandbox.RunAsync(runner, _box.Invocation("show", "-json", _box.PlanFile));
        Assert.Equal(0, show.Result.ExitCode);
        Assert.Contains("\"resource_changes\"", show.Output);
    }

    [Fact]
    public async Task RunAsync_ConfiguredVariable_ReachesTerraformInsideTheSandbox()
    {
        RequireBubblewrap();
        File.WriteAllText(Path.Combine(_box.Source, "main.tf"), "resource \"sim_probe\" \"p\" {\n  env = \"AWS_ROLE_ARN\"\n}\n");
        var options = _box.Options(TerraformRunnerFactory.Sandbox);
        options.Environment["AWS_ROLE_ARN"] = "arn:aws:iam::1:role/plan";
        var runner = new SandboxTerraformRunner(options, _box.WorkDirectory, "bwrap", _box.ProtectedPaths);

        await RunnerSandbox.RunAsync(runner, _box.Invocation("init", "-input=false"));
        var (_, output) = await RunnerSandbox.RunAsync(runner, _box.Plan());

        Assert.Contains("sim_probe.p: observed_env=\"arn:aws:iam::1:role/plan\"", output);
        Assert.True(Directory.Exists(Path.Combine(_box.Home, ".terraform.d", "plugin-cache")), "the per-run plugin cache exists before terraform starts");
    }

    [Fact]
    public async Task RunAsync_Cancelled_ThrowsAndLeavesNoProcess()
    {
        _box.WriteSlowProject(30);
        var runner = Runner();
        var init = await RunnerSandbox.RunAsync(runner, _box.Invocation("init", "-input=false"));
        Assert.True(init.Result.ExitCode == 0, $"init: {init.Result} {init.Output}");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));
        var watch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RunnerSandbox.RunAsync(runner, _box.Plan(), cts.Token));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        await ProcessAssert.NoneMentionAsync(_box.Workspace);
    }

    [Fact]
    public async Task RunAsync_Timeout_ReportsTimedOutAndLeavesNoProcess()
    {
        _box.WriteSlowProject(30);
        var init = await RunnerSandbox.RunAsync(Runner(), _box.Invocation("init", "-input=false"));
        var runner = Runner(TimeSpan.FromSeconds(2.5));
        Assert.True(init.Result.ExitCode == 0, $"init: {init.Result} {init.Output}");

        var (result, output) = await RunnerSandbox.RunAsync(runner, _box.Plan());

        Assert.True(result.TimedOut, output);
        Assert.Contains("Terraform:Timeout", output);
        await ProcessAssert.NoneMentionAsync(_box.Workspace);
    }

    [Fact]
    public async Task RunAsync_MissingBinary_ExplainsWhichSettingToFix()
    {
        var runner = Runner();
        var invocation = _box.Plan() with { Tool = new TerraformTool("1.9.8", "/nonexistent/terraform") };

        var (result, output) = await RunnerSandbox.RunAsync(runner, invocation);

        Assert.Equal(127, result.ExitCode);
        Assert.Contains("/nonexistent/terraform", output);
        Assert.Contains("Terraform:Binary", output);
    }

    [Fact]
    public async Task RunAsync_WorkspaceOutsideWorkspacesDirectory_IsRefused()
    {
        var runner = Runner();
        var invocation = new TerraformInvocation(_box.Source, ["plan"], _box.Home, _box.WorkDirectory);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => runner.RunAsync(invocation, _ => ValueTask.CompletedTask, CancellationToken.None));

        Assert.Contains("workspaces", error.Message);
    }

    public void Dispose() => _box.Dispose();
}

internal static class ProcessAssert
{
    /// <summary>Waits a few seconds for every process whose command line mentions <paramref name="marker"/> to be gone.</summary>
    public static async Task NoneMentionAsync(string marker)
    {
        var left = new List<string>();
        for (var attempt = 0; attempt < 50; attempt++)
        {
            left = Mentioning(marker);
            if (left.Count == 0)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"processes still running: {string.Join("; ", left)}");
    }

    /// <summary>The live processes (<c>pid: command line</c>) whose command line mentions <paramref name="marker"/>.</summary>
    public static List<string> Mentioning(string marker)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                var state = File.ReadAllText(Path.Combine(dir, "stat"));
                // A zombie has exited; only its parent's bookkeeping is left.
                if (cmdline.Contains(marker, StringComparison.Ordinal) && !state.Contains(") Z ", StringComparison.Ordinal))
                {
                    found.Add($"{pid}: {cmdline}");
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }
}
