using System.Diagnostics;

namespace Ensemble.Jobs.Terraform;

/// <summary>
/// Runs terraform in a throw-away container (<c>docker run --rm</c>) with only the run's workspace mounted
/// (docs/runners.md). Works with docker or podman's docker-compatible client (<c>Terraform:DockerBinary</c>).
/// </summary>
public sealed class DockerTerraformRunner(TerraformOptions options, string workDirectory) : ITerraformRunner
{
    private readonly string _workDirectory = Path.GetFullPath(workDirectory);

    public Task<TerraformResult> RunAsync(TerraformInvocation invocation, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        var workspace = TerraformWorkspace.Locate(invocation, _workDirectory);
        var image = invocation.Tool?.Executable
            ?? TerraformRunnerFactory.ResolveTool(options, VersionHints.None).Tool!.Executable;
        var terraformEnv = TerraformEnvironment.Build(System.Environment.GetEnvironmentVariable, options.Environment, invocation.HomeDirectory, invocation.TempDirectory);
        var (clientEnv, names) = DockerCommand.Environment(terraformEnv, System.Environment.GetEnvironmentVariable);
        var name = $"ensemble-tf-{Guid.NewGuid():N}";
        var command = DockerCommand.Build(new DockerSpec(
            options.DockerBinary, name, image, CurrentUser(), workspace, Path.GetFullPath(invocation.WorkingDirectory),
            invocation.Arguments, names, options.Cpus, options.MemoryMiB));

        var start = new ProcessStartInfo(command[0]) { WorkingDirectory = workspace };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        Directory.CreateDirectory(TerraformEnvironment.PluginCacheDirectory(invocation.HomeDirectory));
        return ChildProcess.RunAsync(start, clientEnv, onLine, options.Timeout, () => KillAsync(name, clientEnv), cancellationToken);
    }

    private async Task KillAsync(string container, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(options.DockerBinary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("kill");
        start.ArgumentList.Add(container);
        start.Environment.Clear();
        foreach (var (k, v) in environment)
        {
            start.Environment[k] = v;
        }

        try
        {
            using var kill = Process.Start(start);
            if (kill is not null)
            {
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await kill.WaitForExitAsync(limit.Token);
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or OperationCanceledException)
        {
            // The client is killed next anyway, and --rm removes the container once it stops.
        }
    }

    /// <summary><c>uid:gid</c> of this process, read from /proc (no libc call needed).</summary>
    private static string CurrentUser()
    {
        string? uid = null, gid = null;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                uid = line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
            }
            else if (line.StartsWith("Gid:", StringComparison.Ordinal))
            {
                gid = line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
            }
        }

        return $"{uid ?? "0"}:{gid ?? "0"}";
    }
}
