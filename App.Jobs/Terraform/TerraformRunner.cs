using System.Diagnostics;
using System.Text;

namespace Ensemble.Jobs.Terraform;

/// <summary>One terraform command: where it runs and its arguments (passed as a list, never through a shell).</summary>
public sealed record TerraformInvocation(string WorkingDirectory, IReadOnlyList<string> Arguments, string HomeDirectory, string TempDirectory);

public sealed record TerraformResult(int ExitCode, bool TimedOut);

/// <summary>Runs terraform somewhere isolated. Output arrives line by line (stdout and stderr merged, in arrival order).</summary>
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
        foreach (var (name, value) in configured)
        {
            env[name] = value;
        }
        return env;
    }
}

/// <summary>
/// Runs terraform as a child process with a scrubbed environment. No filesystem isolation: the weaker runner, for
/// hosts without bubblewrap or a container engine (docs/runners.md).
/// </summary>
public sealed class ProcessTerraformRunner(TerraformOptions options) : ITerraformRunner
{
    public async Task<TerraformResult> RunAsync(TerraformInvocation invocation, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(options.Binary)
        {
            WorkingDirectory = invocation.WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in invocation.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        var env = TerraformEnvironment.Build(Environment.GetEnvironmentVariable, options.Environment, invocation.HomeDirectory, invocation.TempDirectory);
        foreach (var (name, value) in env)
        {
            start.Environment[name] = value;
        }

        using var timeout = new CancellationTokenSource(options.Timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            await onLine($"Error: could not start '{options.Binary}': {e.Message}. Set Terraform:Binary to the terraform or tofu executable.");
            return new TerraformResult(127, false);
        }

        process.StandardInput.Close();
        var gate = new SemaphoreSlim(1, 1);
        async Task Pump(StreamReader reader)
        {
            while (await reader.ReadLineAsync(CancellationToken.None) is { } line)
            {
                await gate.WaitAsync(CancellationToken.None);
                try
                {
                    await onLine(line);
                }
                finally
                {
                    gate.Release();
                }
            }
        }

        var pumps = Task.WhenAll(Pump(process.StandardOutput), Pump(process.StandardError));
        try
        {
            await process.WaitForExitAsync(linked.Token);
        }
        catch (OperationCanceledException)
        {
            // Superseded, shut down or out of time: stop terraform and everything it started (providers).
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            await process.WaitForExitAsync(CancellationToken.None);
            await pumps;
            if (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                await onLine($"Error: terraform did not finish within {options.Timeout} (Terraform:Timeout) and was stopped.");
                return new TerraformResult(-1, true);
            }
            throw;
        }

        await pumps;
        return new TerraformResult(process.ExitCode, false);
    }
}
