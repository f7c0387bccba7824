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
        var start = new ProcessStartInfo(invocation.Tool?.Executable ?? options.Binary) { WorkingDirectory = invocation.WorkingDirectory };
        foreach (var argument in invocation.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var env = TerraformEnvironment.Build(Environment.GetEnvironmentVariable, options.Environment, invocation.HomeDirectory, invocation.TempDirectory);
        Directory.CreateDirectory(TerraformEnvironment.PluginCacheDirectory(invocation.HomeDirectory));
        return ChildProcess.RunAsync(start, env, onLine, options.Timeout, null, cancellationToken);
    }

    /// <summary>
    /// All steps from one shell (<see cref="StepScript"/>): .NET's side of starting a process costs the App ≈ 1.4 ms,
    /// the shell's fork and exec of terraform far less (docs/benchmarks.md). Without <c>/bin/sh</c>, one process each.
    /// </summary>
    public async Task<IReadOnlyList<TerraformResult>> RunStepsAsync(
        TerraformSteps steps, Func<int, ValueTask> onStep, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        if (steps.Steps.Count < 2 || !File.Exists(StepScript.Shell))
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
        var start = new ProcessStartInfo(StepScript.Shell) { WorkingDirectory = steps.WorkingDirectory };
        foreach (var argument in (string[])["-c", StepScript.Build(executable, steps.Steps, marker), "ensemble-steps"])
        {
            start.ArgumentList.Add(argument);
        }

        var env = TerraformEnvironment.Build(Environment.GetEnvironmentVariable, options.Environment, steps.HomeDirectory, steps.TempDirectory);
        Directory.CreateDirectory(TerraformEnvironment.PluginCacheDirectory(steps.HomeDirectory));
        return await StepScript.RunAsync(start, env, marker, onStep, onLine, options.Timeout, cancellationToken);
    }
}
