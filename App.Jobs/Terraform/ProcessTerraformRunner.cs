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
}
