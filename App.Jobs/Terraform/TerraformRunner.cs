namespace Ensemble.Jobs.Terraform;

/// <summary>
/// One terraform command: where it runs and its arguments (passed as a list, never through a shell).
/// <see cref="Tool"/> is the binary or image picked by <see cref="TerraformVersionResolver"/>; null = <c>Terraform:Binary</c>
/// (or <c>Terraform:Image</c> for the container runners).
/// </summary>
/// <remarks>
/// The runners isolate by workspace: the deepest directory holding <see cref="WorkingDirectory"/>, <see cref="HomeDirectory"/>
/// and <see cref="TempDirectory"/> (PlanJob's <c>{WorkDirectory}/workspaces/run-…/</c>) is the only writable place, and it
/// must lie inside <c>{WorkDirectory}/workspaces/</c> (<see cref="TerraformWorkspace"/>).
/// </remarks>
public sealed record TerraformInvocation(string WorkingDirectory, IReadOnlyList<string> Arguments, string HomeDirectory, string TempDirectory)
{
    public TerraformTool? Tool { get; init; }
}

public sealed record TerraformResult(int ExitCode, bool TimedOut);

/// <summary>Runs terraform somewhere isolated. Output arrives line by line (stdout and stderr merged, in arrival order).</summary>
/// <remarks>
/// A run longer than <c>Terraform:Timeout</c> is stopped (whole process tree or container) and reported as
/// <c>TimedOut</c>; a cancelled run is stopped the same way and throws <see cref="OperationCanceledException"/>.
/// </remarks>
public interface ITerraformRunner
{
    Task<TerraformResult> RunAsync(TerraformInvocation invocation, Func<string, ValueTask> onLine, CancellationToken cancellationToken);

    /// <summary>
    /// Runs the steps in order, in one isolated environment where the runner can (the sandbox runner starts one
    /// bubblewrap for them all), and stops after the first step whose exit code is not one of its
    /// <see cref="TerraformStep.SuccessCodes"/> or that timed out. Returns one result per step that ran.
    /// <c>Terraform:Timeout</c> bounds each step.
    /// </summary>
    /// <param name="onStep">Called as step <c>i</c> starts, before its output.</param>
    /// <param name="onLine">The running step's output lines (stdout and stderr, or stderr alone where the step has a <see cref="TerraformStep.StdoutFile"/>).</param>
    Task<IReadOnlyList<TerraformResult>> RunStepsAsync(TerraformSteps steps, Func<int, ValueTask> onStep, Func<string, ValueTask> onLine, CancellationToken cancellationToken) =>
        TerraformSteps.OneByOneAsync(this, steps, onStep, onLine, cancellationToken);
}

/// <summary>One command of a <see cref="TerraformSteps"/> sequence.</summary>
/// <param name="Arguments">terraform's arguments.</param>
/// <param name="SuccessCodes">Exit codes after which the next step runs (plan's <c>-detailed-exitcode</c> adds 2).</param>
public sealed record TerraformStep(IReadOnlyList<string> Arguments, IReadOnlyList<int> SuccessCodes)
{
    /// <summary>A file in the workspace that receives the step's stdout byte for byte (<c>show -json</c>); its stderr stays output.</summary>
    public string? StdoutFile { get; init; }
}

/// <summary>Terraform commands that run one after another in the same project directory, HOME and TMPDIR.</summary>
public sealed record TerraformSteps(string WorkingDirectory, string HomeDirectory, string TempDirectory, IReadOnlyList<TerraformStep> Steps)
{
    public TerraformTool? Tool { get; init; }

    /// <summary>Step <paramref name="index"/> as a single command.</summary>
    public TerraformInvocation Invocation(int index) =>
        new(WorkingDirectory, Steps[index].Arguments, HomeDirectory, TempDirectory) { Tool = Tool };

    /// <summary>
    /// The sequence as separate <see cref="ITerraformRunner.RunAsync"/> calls: the runners without a cheaper way
    /// (a process is as cheap as a shell; a container or pod per command keeps the engines' semantics simple).
    /// </summary>
    public static async Task<IReadOnlyList<TerraformResult>> OneByOneAsync(
        ITerraformRunner runner, TerraformSteps steps, Func<int, ValueTask> onStep, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        var results = new List<TerraformResult>();
        for (var i = 0; i < steps.Steps.Count; i++)
        {
            var step = steps.Steps[i];
            await onStep(i);
            TerraformResult result;
            if (step.StdoutFile is { } file)
            {
                // The runner merges stdout and stderr, so here the file gets both (terraform writes its JSON to stdout
                // and diagnostics, if any, to stderr; a failed step's file is shown as its output).
                await using var writer = new StreamWriter(file, append: false, new System.Text.UTF8Encoding(false)) { NewLine = "\n" };
                result = await runner.RunAsync(steps.Invocation(i), async line => await writer.WriteLineAsync(line), cancellationToken);
            }
            else
            {
                result = await runner.RunAsync(steps.Invocation(i), onLine, cancellationToken);
            }

            results.Add(result);
            if (result.TimedOut || !step.SuccessCodes.Contains(result.ExitCode))
            {
                break;
            }
        }

        return results;
    }
}

/// <summary>
/// The environment terraform sees: a short allowlist from the host plus the operator's configured provider variables.
/// The App's own secrets (GitHub key, webhook secret, database, tokens) are never in it.
/// </summary>
public static class TerraformEnvironment
{
    /// <summary>Host variables that carry no secret and that terraform and providers need to work at all.</summary>
    public static readonly IReadOnlyList<string> HostAllowlist =
    [
        "PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY",
        "https_proxy", "http_proxy", "no_proxy",
    ];

    /// <summary>The per-run plugin cache below HOME (docs/runners.md, "Plugin cache"): never shared between runs.</summary>
    public static string PluginCacheDirectory(string home) => Path.Combine(home, ".terraform.d", "plugin-cache");

    public static IReadOnlyDictionary<string, string> Build(
        Func<string, string?> host, IReadOnlyDictionary<string, string> configured, string home, string temp)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in HostAllowlist)
        {
            if (host(name) is { } value)
            {
                env[name] = value;
            }
        }

        env["HOME"] = home;
        env["TMPDIR"] = temp;
        env["TF_IN_AUTOMATION"] = "1";
        env["TF_INPUT"] = "0";
        env["CHECKPOINT_DISABLE"] = "1";
        env["TF_PLUGIN_CACHE_DIR"] = PluginCacheDirectory(home);
        foreach (var (name, value) in configured)
        {
            env[name] = value;
        }
        return env;
    }

    /// <summary>The values of the operator's configured variables, for a <c>SecretMasker</c>.</summary>
    public static IReadOnlyList<string> SecretValues(TerraformOptions options) => [.. options.Environment.Values.Where(v => v.Length > 0)];
}
