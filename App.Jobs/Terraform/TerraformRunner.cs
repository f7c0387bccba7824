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
