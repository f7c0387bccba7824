using System.Diagnostics;

namespace Ensemble.Jobs.Terraform;

/// <summary>
/// Runs terraform as a child process with a scrubbed environment. No filesystem isolation: the weaker runner, for
/// hosts without bubblewrap or a container engine (docs/runners.md).
/// </summary>
public sealed class ProcessTerraformRunner(TerraformOptions options) : ITerraformRunner
{
    public Task<TerraformResult> RunAsync(TerraformInvocation invocation, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        var (start, env) = Prepare(invocation.Tool?.Executable ?? options.Binary, invocation.Arguments,
            invocation.WorkingDirectory, invocation.HomeDirectory, invocation.TempDirectory);
        return ChildProcess.RunAsync(start, env, onLine, options.Timeout, null, cancellationToken);
    }

    /// <summary>
    /// All steps from one shell (<see cref="StepScript"/>): .NET's side of starting a process costs the App ≈ 1.4 ms,
    /// the shell's fork and exec of terraform far less (docs/benchmarks.md). Without <c>/bin/sh</c>, one process each.
    /// </summary>
    public async Task<IReadOnlyList<TerraformResult>> RunStepsAsync(
        TerraformSteps steps, Func<int, ValueTask> onStep, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        if (!StepScript.Suits(steps))
        {
            return await TerraformSteps.OneByOneAsync(this, steps, onStep, onLine, cancellationToken);
        }

        var executable = steps.Tool?.Executable ?? options.Binary;
        if (HostPaths.ResolveExecutable(executable, Environment.GetEnvironmentVariable("PATH")) is null)
        {
            // What Process.Start would have said, before the shell says less ("not found").
            await onStep(0);
            await onLine($"Error: could not start '{executable}': not found. Check Terraform:Binary and Terraform:Runner (docs/runners.md).");
            return [new TerraformResult(127, false)];
        }

        var marker = StepScript.NewMarker();
        var (shell, arguments) = StepScript.Command(executable, steps.Steps, marker);
        var (start, env) = Prepare(shell, arguments, steps.WorkingDirectory, steps.HomeDirectory, steps.TempDirectory);
        return await StepScript.RunAsync(start, env, marker, onStep, onLine, options.Timeout, cancellationToken);
    }

    /// <summary>The process and terraform's environment (its per-run plugin cache created).</summary>
    private (ProcessStartInfo Start, IReadOnlyDictionary<string, string> Environment) Prepare(
        string program, IReadOnlyList<string> arguments, string workingDirectory, string home, string temp)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Directory.CreateDirectory(TerraformEnvironment.PluginCacheDirectory(home));
        return (start, TerraformEnvironment.Build(Environment.GetEnvironmentVariable, options.Environment, home, temp));
    }
}
