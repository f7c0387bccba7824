using System.Diagnostics;

namespace Ensemble.Jobs.Terraform;

/// <summary>
/// Runs terraform inside a bubblewrap sandbox: read-only system, only the run's workspace writable, private /tmp,
/// /proc and /dev, own namespaces except the network, and a scrubbed environment (docs/runners.md).
/// </summary>
public sealed class SandboxTerraformRunner : ITerraformRunner
{
    private readonly TerraformOptions _options;
    private readonly string _workDirectory;
    private readonly string _bwrap;
    private readonly IReadOnlyList<string> _protectedPaths;
    private readonly IReadOnlyList<SystemDirectory> _systemDirectories;

    /// <param name="workDirectory"><c>Ensemble:WorkDirectory</c>: hidden except for the run's own workspace.</param>
    /// <param name="bwrap">The bubblewrap executable.</param>
    /// <param name="protectedPaths">More host paths terraform must not see even if they lie below a shown directory: the App's content root, key file, database file.</param>
    public SandboxTerraformRunner(TerraformOptions options, string workDirectory, string bwrap = "bwrap", IReadOnlyList<string>? protectedPaths = null)
    {
        _options = options;
        _workDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(workDirectory));
        _bwrap = bwrap;
        _protectedPaths = [_workDirectory, .. (protectedPaths ?? []).Where(p => p.Length > 0).Select(p => Path.TrimEndingDirectorySeparator(Path.GetFullPath(p)))];
        _systemDirectories = HostPaths.SystemDirectories();
        if (Validate(options, workDirectory, protectedPaths) is [var first, ..])
        {
            throw new ArgumentException(first, nameof(options));
        }
    }

    /// <summary>Configuration mistakes that would show the App's secrets inside the sandbox.</summary>
    public static IReadOnlyList<string> Validate(TerraformOptions options, string workDirectory, IReadOnlyList<string>? protectedPaths = null)
    {
        var errors = new List<string>();
        var secrets = new[] { workDirectory }.Concat(protectedPaths ?? []).Where(p => p.Length > 0).Select(Path.GetFullPath).ToList();
        foreach (var path in options.ReadOnlyPaths)
        {
            if (!Path.IsPathFullyQualified(path))
            {
                errors.Add($"Terraform:ReadOnlyPaths entry \"{path}\" must be an absolute path.");
            }
            else if (secrets.FirstOrDefault(s => TerraformWorkspace.IsSameOrInside(s, Path.GetFullPath(path)) || TerraformWorkspace.IsSameOrInside(Path.GetFullPath(path), s)) is { } secret)
            {
                errors.Add($"Terraform:ReadOnlyPaths entry \"{path}\" would show {secret} (Ensemble's own files) to terraform; choose a narrower path.");
            }
        }

        return errors;
    }

    public Task<TerraformResult> RunAsync(TerraformInvocation invocation, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        if (Prepare(invocation, executable => (executable, invocation.Arguments)) is not { } sandbox)
        {
            return Fail(invocation, onLine);
        }

        // bwrap passes its own environment on: giving it exactly terraform's keeps values off the command line,
        // where any local user could read them in /proc/<pid>/cmdline (unlike --setenv).
        return ChildProcess.RunAsync(sandbox.Start, sandbox.Environment, onLine, _options.Timeout, null, cancellationToken);
    }

    /// <summary>
    /// All steps in one bubblewrap, run by the system's shell (<see cref="StepScript"/>): a sandbox costs more than the
    /// command in it (≈ 11–15 ms of CPU each here, mostly bubblewrap's own process and mount namespace;
    /// docs/benchmarks.md), and a plan's init, plan and show need the same one. Without <c>/bin/sh</c> on the host the
    /// steps run one sandbox each.
    /// </summary>
    public async Task<IReadOnlyList<TerraformResult>> RunStepsAsync(
        TerraformSteps steps, Func<int, ValueTask> onStep, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        if (!StepScript.Suits(steps))
        {
            return await TerraformSteps.OneByOneAsync(this, steps, onStep, onLine, cancellationToken);
        }

        var marker = StepScript.NewMarker();
        var first = steps.Invocation(0);
        if (Prepare(first, executable => StepScript.Command(executable, steps.Steps, marker)) is not { } sandbox)
        {
            await onStep(0);
            return [await Fail(first, onLine)];
        }

        return await StepScript.RunAsync(sandbox.Start, sandbox.Environment, marker, onStep, onLine, _options.Timeout, cancellationToken);
    }

    private sealed record Sandbox(ProcessStartInfo Start, IReadOnlyDictionary<string, string> Environment);

    /// <summary>
    /// The bubblewrap command around <paramref name="program"/> (given terraform's resolved path: terraform itself or
    /// a shell running it), with terraform's environment; null when terraform cannot be used (<see cref="Fail"/> says why).
    /// </summary>
    private Sandbox? Prepare(TerraformInvocation invocation, Func<string, (string Program, IReadOnlyList<string> Arguments)> program)
    {
        var workspace = TerraformWorkspace.Locate(invocation, _workDirectory);
        if (Executable(invocation) is not { } executable || TerraformWorkspace.IsSameOrInside(executable, _workDirectory))
        {
            return null;
        }

        var readOnly = new List<string>();
        if (!IsSystemPath(executable))
        {
            // The binary's own directory: enough for terraform, and for a .NET apphost its dll and dependencies.
            readOnly.Add(Path.GetDirectoryName(executable)!);
        }

        var env = new Dictionary<string, string>(
            TerraformEnvironment.Build(Environment.GetEnvironmentVariable, _options.Environment, invocation.HomeDirectory, invocation.TempDirectory),
            StringComparer.Ordinal);
        if (HostPaths.DotnetRootFor(executable) is { } dotnetRoot)
        {
            if (!IsSystemPath(dotnetRoot))
            {
                readOnly.Add(dotnetRoot);
            }

            env["DOTNET_ROOT"] = dotnetRoot;
        }

        readOnly.AddRange(_options.ReadOnlyPaths.Select(Path.GetFullPath));
        var (run, arguments) = program(executable);
        var spec = new BubblewrapSpec(
            _bwrap,
            workspace,
            Path.GetFullPath(invocation.WorkingDirectory),
            run,
            arguments,
            _systemDirectories,
            [.. readOnly.Distinct(StringComparer.Ordinal)],
            [.. _protectedPaths.Where(p => File.Exists(p) || Directory.Exists(p)).Select(p => new ProtectedPath(p, Directory.Exists(p)))]);
        var command = BubblewrapCommand.Build(spec);

        var start = new ProcessStartInfo(command[0]) { WorkingDirectory = workspace };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        Directory.CreateDirectory(TerraformEnvironment.PluginCacheDirectory(invocation.HomeDirectory));
        return new Sandbox(start, env);
    }

    private string? Executable(TerraformInvocation invocation) =>
        HostPaths.ResolveExecutable(invocation.Tool?.Executable ?? _options.Binary, Environment.GetEnvironmentVariable("PATH"));

    /// <summary>Why terraform cannot run, as its only output line, and exit code 127 (command not found).</summary>
    private async Task<TerraformResult> Fail(TerraformInvocation invocation, Func<string, ValueTask> onLine)
    {
        var requested = invocation.Tool?.Executable ?? _options.Binary;
        await onLine(Executable(invocation) is { } executable
            ? $"Error: the terraform executable {executable} lies inside the work directory {_workDirectory}; install it elsewhere."
            : $"Error: terraform executable '{requested}' was not found on the host. Set Terraform:Binary (or Terraform:Versions) to its path.");
        return new TerraformResult(127, false);
    }

    private bool IsSystemPath(string path) =>
        TerraformWorkspace.IsSameOrInside(path, "/usr")
        || _systemDirectories.Any(d => d.LinkTarget is null && TerraformWorkspace.IsSameOrInside(path, d.Path));
}
