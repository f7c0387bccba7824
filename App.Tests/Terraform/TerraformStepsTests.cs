using System.Text.Json;
using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

/// <summary>
/// A plan's init, plan and show as one sequence (<see cref="ITerraformRunner.RunStepsAsync"/>): under <c>sandbox</c>
/// one bubblewrap runs them through <see cref="StepScript"/>, under <c>process</c> one process each. Both must give the
/// same steps, output, exit codes and files.
/// </summary>
[Trait("Category", "Integration")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // shell scripts as terraform, bubblewrap
public sealed class TerraformStepsTests : IDisposable
{
    private readonly RunnerSandbox _box = new();

    public static TheoryData<string> Runners => [TerraformRunnerFactory.Sandbox, TerraformRunnerFactory.Process];

    private ITerraformRunner Runner(string kind, TimeSpan? timeout = null)
    {
        var options = _box.Options(kind);
        if (timeout is { } t)
        {
            options.Timeout = t;
        }

        if (kind == TerraformRunnerFactory.Sandbox)
        {
            SandboxTerraformRunnerTests.RequireBubblewrap();
            return new SandboxTerraformRunner(options, _box.WorkDirectory, "bwrap", _box.ProtectedPaths);
        }

        return new ProcessTerraformRunner(options);
    }

    /// <summary>A stand-in terraform written as a shell script, outside the work directory, run as the step's tool.</summary>
    private TerraformTool Script(string body)
    {
        var dir = Path.Combine(_box.Root, "bin");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "terraform");
        File.WriteAllText(path, "#!/bin/sh\n" + body);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        return new TerraformTool("test", path);
    }

    private TerraformSteps Steps(params TerraformStep[] steps) => new(_box.Source, _box.Home, _box.Temp, steps);

    private static async Task<(IReadOnlyList<TerraformResult> Results, List<string> Log)> RunAsync(
        ITerraformRunner runner, TerraformSteps steps, CancellationToken ct = default)
    {
        var log = new List<string>();
        var results = await runner.RunStepsAsync(steps,
            i => { lock (log) { log.Add($"<step {i}>"); } return ValueTask.CompletedTask; },
            line => { lock (log) { log.Add(line); } return ValueTask.CompletedTask; },
            ct);
        return (results, log);
    }

    [Theory]
    [MemberData(nameof(Runners))]
    public async Task RunStepsAsync_StandInPlan_InitPlanShowInOrderWithTheJsonInItsFile(string kind)
    {
        _box.WriteHostileProject();
        var json = Path.Combine(_box.Output, "plan.json");
        var steps = Steps(
            new TerraformStep(["init", "-input=false", "-no-color"], [0]),
            new TerraformStep(["plan", "-input=false", "-no-color", "-detailed-exitcode", $"-out={_box.PlanFile}"], [0, 2]),
            new TerraformStep(["show", "-json", "-no-color", _box.PlanFile], [0]) { StdoutFile = json });

        var (results, log) = await RunAsync(Runner(kind), steps);

        var text = string.Join("\n", log);
        Assert.Equal([0, 2, 0], results.Select(r => r.ExitCode));
        Assert.Equal(["<step 0>", "<step 1>", "<step 2>"], log.Where(l => l.StartsWith("<step", StringComparison.Ordinal)));
        // The plan's own lines come under the plan step, and no marker of the script reaches the output.
        var planLine = log.FindIndex(l => l.Contains("sim_probe.own: observed_file=\"own content\"", StringComparison.Ordinal));
        Assert.True(planLine > log.IndexOf("<step 1>") && planLine < log.IndexOf("<step 2>"), text);
        Assert.DoesNotContain("ensemble-step-", text);
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        Assert.True(document.RootElement.TryGetProperty("resource_changes", out _), "show -json's stdout is the file's content");
        Assert.DoesNotContain("resource_changes", text);
    }

    [Fact]
    public async Task RunStepsAsync_Sandbox_HostileStepsSeeNoSecretAcrossTheSequence()
    {
        _box.WriteHostileProject();
        var steps = Steps(
            new TerraformStep(["init", "-input=false", "-no-color"], [0]),
            new TerraformStep(["plan", "-input=false", "-no-color", "-detailed-exitcode", $"-out={_box.PlanFile}"], [0, 2]));

        var (results, log) = await RunAsync(Runner(TerraformRunnerFactory.Sandbox), steps);

        var text = string.Join("\n", log);
        Assert.Equal([0, 2], results.Select(r => r.ExitCode));
        foreach (var name in new[] { "key", "db", "other", "settings" })
        {
            Assert.Contains($"sim_probe.{name}: observed_file=\"(unreadable)\"", text);
        }

        Assert.Contains("sim_probe.key: observed_env=\"(unset)\"", text);
        Assert.DoesNotContain(RunnerSandbox.SecretValue, text);
    }

    [Fact]
    public async Task RunStepsAsync_Process_StepsSeeNoAppSecretInTheirEnvironment()
    {
        _box.WriteHostileProject();
        var steps = Steps(
            new TerraformStep(["init", "-input=false", "-no-color"], [0]),
            new TerraformStep(["plan", "-input=false", "-no-color", "-detailed-exitcode", $"-out={_box.PlanFile}"], [0, 2]));

        var (results, log) = await RunAsync(Runner(TerraformRunnerFactory.Process), steps);

        var text = string.Join("\n", log);
        Assert.Equal([0, 2], results.Select(r => r.ExitCode));
        Assert.Contains("sim_probe.key: observed_env=\"(unset)\"", text);
        Assert.DoesNotContain(RunnerSandbox.SecretValue, text);
    }

    [Fact]
    public async Task RunStepsAsync_Process_StepsRunFromOneShellNotFromTheApp()
    {
        var tool = Script("echo \"parent $PPID $(cat /proc/$PPID/comm)\"\n");

        var (results, log) = await RunAsync(Runner(TerraformRunnerFactory.Process),
            Steps(new TerraformStep(["init"], [0]), new TerraformStep(["plan"], [0])) with { Tool = tool });

        Assert.Equal([0, 0], results.Select(r => r.ExitCode));
        var parents = log.Where(l => l.StartsWith("parent ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, parents.Count);
        Assert.Equal(parents[0], parents[1]);
        Assert.NotEqual($"parent {Environment.ProcessId}", parents[0].Split(' ')[0] + " " + parents[0].Split(' ')[1]);
    }

    [Theory]
    [MemberData(nameof(Runners))]
    public async Task RunStepsAsync_FailingStep_StopsThereWithItsCodeAndOutput(string kind)
    {
        var tool = Script("""
            case "$1" in
              init) echo "initialized"; exit 0 ;;
              plan) echo "Error: Unsupported argument" >&2; exit 1 ;;
              *) echo "ran $1, which must not run"; exit 0 ;;
            esac
            """);
        var steps = Steps(new TerraformStep(["init"], [0]), new TerraformStep(["plan"], [0, 2]), new TerraformStep(["show"], [0])) with { Tool = tool };

        var (results, log) = await RunAsync(Runner(kind), steps);

        Assert.Equal([0, 1], results.Select(r => r.ExitCode));
        Assert.Equal(["<step 0>", "initialized", "<step 1>", "Error: Unsupported argument"], log);
    }

    [Theory]
    [MemberData(nameof(Runners))]
    public async Task RunStepsAsync_Arguments_ReachTerraformVerbatim(string kind)
    {
        var tool = Script("for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n");
        string[] args = ["plan", "it's", "$HOME", "a b;c", "`id`", "-var=x=\"y\""];

        var (results, log) = await RunAsync(Runner(kind), Steps(new TerraformStep(args, [0]), new TerraformStep(["show"], [0])) with { Tool = tool });

        Assert.Equal([0, 0], results.Select(r => r.ExitCode));
        Assert.Equal(["<step 0>", .. args.Select(a => $"[{a}]"), "<step 1>", "[show]"], log);
    }

    [Fact]
    public async Task RunStepsAsync_Sandbox_StdoutFileIsByteExactAndStderrStaysOutput()
    {
        var tool = Script("""
            if [ "$1" = show ]; then printf '{"a":"é"}'; echo "warning: on stderr" >&2; fi
            """);
        var file = Path.Combine(_box.Output, "out.json");

        var (results, log) = await RunAsync(Runner(TerraformRunnerFactory.Sandbox),
            Steps(new TerraformStep(["init"], [0]), new TerraformStep(["show"], [0]) { StdoutFile = file }) with { Tool = tool });

        Assert.Equal([0, 0], results.Select(r => r.ExitCode));
        Assert.Equal("{\"a\":\"é\"}"u8.ToArray(), await File.ReadAllBytesAsync(file));
        Assert.Equal(["<step 0>", "<step 1>", "warning: on stderr"], log);
    }

    [Fact]
    public async Task RunStepsAsync_Sandbox_AllStepsShareOneSandbox()
    {
        // The sandbox's /tmp is private to one bubblewrap: a file a step leaves there is seen by the next step only if
        // both ran in the same one.
        var tool = Script("""
            case "$1" in
              leave) echo "left by init" > /tmp/ensemble-steps-probe ;;
              find) cat /tmp/ensemble-steps-probe 2>/dev/null || echo "not found" ;;
            esac
            """);

        var (results, log) = await RunAsync(Runner(TerraformRunnerFactory.Sandbox),
            Steps(new TerraformStep(["leave"], [0]), new TerraformStep(["find"], [0])) with { Tool = tool });

        Assert.Equal([0, 0], results.Select(r => r.ExitCode));
        Assert.Equal(["<step 0>", "<step 1>", "left by init"], log);
        Assert.False(File.Exists("/tmp/ensemble-steps-probe"), "the sandbox's /tmp is not the host's");
    }

    [Fact]
    public async Task RunStepsAsync_Sandbox_AProcessAStepLeftRunningEndsWithTheRun()
    {
        // A provider that forks a daemon and exits, or a hostile plan that tries to outlive its run: whatever is left
        // in the sandbox's pid namespace is killed when the run's first process (the namespace's PID 1) exits.
        var tool = Script("""
            case "$1" in
              leave) "$0" linger </dev/null >/dev/null 2>&1 & echo "left one behind" ;;
              linger) sleep 300 ;;
            esac
            """);

        var (results, log) = await RunAsync(Runner(TerraformRunnerFactory.Sandbox), Steps(new TerraformStep(["leave"], [0])) with { Tool = tool });

        Assert.Equal([0], results.Select(r => r.ExitCode));
        Assert.Contains("left one behind", log);
        await ProcessAssert.NoneMentionAsync(Path.Combine(_box.Root, "bin"));
    }

    [Theory]
    [MemberData(nameof(Runners))]
    public async Task RunStepsAsync_TimeoutIsPerStep_SlowSequenceOfQuickStepsPasses_AndASlowStepIsStopped(string kind)
    {
        var tool = Script("""
            case "$1" in
              quick) sleep 1.2; echo "done $2" ;;
              slow) echo "starting"; sleep 30 ;;
            esac
            """);
        var runner = Runner(kind, TimeSpan.FromSeconds(2));

        var quick = await RunAsync(runner, Steps(new TerraformStep(["quick", "1"], [0]), new TerraformStep(["quick", "2"], [0])) with { Tool = tool });
        var slow = await RunAsync(runner, Steps(new TerraformStep(["quick", "1"], [0]), new TerraformStep(["slow"], [0]), new TerraformStep(["quick", "3"], [0])) with { Tool = tool });

        Assert.Equal([0, 0], quick.Results.Select(r => r.ExitCode));
        Assert.Equal(2, slow.Results.Count);
        Assert.True(slow.Results[1].TimedOut, string.Join("\n", slow.Log));
        Assert.Contains(slow.Log, l => l.Contains("Terraform:Timeout", StringComparison.Ordinal));
        Assert.DoesNotContain("done 3", slow.Log);
        await ProcessAssert.NoneMentionAsync(Path.Combine(_box.Root, "bin"));
    }

    [Theory]
    [MemberData(nameof(Runners))]
    public async Task RunStepsAsync_MissingBinary_FirstStepFailsWithTheSettingToFix(string kind)
    {
        var steps = Steps(new TerraformStep(["init"], [0]), new TerraformStep(["plan"], [0])) with { Tool = new TerraformTool("1.9.8", "/nonexistent/terraform") };

        var (results, log) = await RunAsync(Runner(kind), steps);

        Assert.Equal(127, Assert.Single(results).ExitCode);
        Assert.Equal("<step 0>", log[0]);
        Assert.Contains(log, l => l.Contains("/nonexistent/terraform", StringComparison.Ordinal));
    }

    public void Dispose() => _box.Dispose();
}

/// <summary>The script and its reader without a sandbox (pure).</summary>
public sealed class StepScriptTests
{
    [Fact]
    public void Quote_ProtectsEverythingTheShellWouldInterpret() =>
        Assert.Equal("'it'\\''s $HOME `id`'", StepScript.Quote("it's $HOME `id`"));

    [Fact]
    public void Reader_OutputBeforeAMarker_IsKeptAndTheStepsAreCounted()
    {
        var reader = new StepScript.Reader("M");

        Assert.Equal(0, reader.Read("M start 0").Started);
        Assert.Equal("partial line", reader.Read("partial lineM exit 0 0").Output);
        Assert.True(reader.StartsStep("M start 1"));
        reader.Read("M start 1");
        Assert.Equal("ordinary line", reader.Read("ordinary line").Output);

        // Step 1 never reported (killed): the process's own result stands for it.
        var results = reader.Results(new TerraformResult(-1, TimedOut: true));
        Assert.Equal([new TerraformResult(0, false), new TerraformResult(-1, true)], results);
    }

    [Fact]
    public void Reader_AllStepsReported_ProcessResultIsNotAddedTwice()
    {
        var reader = new StepScript.Reader("M");
        foreach (var line in new[] { "M start 0", "M exit 0 0", "M start 1", "M exit 1 2" })
        {
            reader.Read(line);
        }

        Assert.Equal([0, 2], reader.Results(new TerraformResult(0, false)).Select(r => r.ExitCode));
    }
}
