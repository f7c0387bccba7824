using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Terraform;

/// <summary>
/// Chooses and builds the runner named by <c>Terraform:Runner</c> (docs/runners.md). Call <see cref="Validate"/> at
/// startup to show configuration mistakes, then <see cref="Create"/> once.
/// </summary>
public static class TerraformRunnerFactory
{
    public const string Sandbox = "sandbox";
    public const string Process = "process";
    public const string Docker = "docker";
    public const string Kubernetes = "kubernetes";

    public static readonly IReadOnlyList<string> Kinds = [Sandbox, Process, Docker, Kubernetes];

    private static readonly Lazy<bool> BwrapWorks = new(() => Probe("bwrap", ["--ro-bind", "/", "/", "true"]));

    /// <summary>The runner kind in effect: <c>Terraform:Runner</c>, or for an empty value sandbox where bwrap works, else process.</summary>
    public static string EffectiveKind(TerraformOptions options) =>
        string.IsNullOrWhiteSpace(options.Runner) ? (BwrapWorks.Value ? Sandbox : Process) : options.Runner.Trim().ToLowerInvariant();

    /// <summary>Whether the runner's tools are images (docker, kubernetes) rather than host executables.</summary>
    public static bool UsesImages(string kind) => kind is Docker or Kubernetes;

    /// <summary>Every problem that would stop terraform from running as configured, as messages for the operator.</summary>
    /// <param name="protectedPaths">The App's content root, key file and database file, which terraform must not see.</param>
    public static IReadOnlyList<string> Validate(TerraformOptions options, string workDirectory, IReadOnlyList<string>? protectedPaths = null)
    {
        var errors = new List<string>();
        var kind = EffectiveKind(options);
        if (!Kinds.Contains(kind))
        {
            errors.Add($"Terraform:Runner \"{options.Runner}\" is not a runner; use one of: {string.Join(", ", Kinds)} (or leave it empty for sandbox where bubblewrap works, else process).");
            return errors;
        }

        if (options.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"Terraform:Timeout must be positive (it is {options.Timeout}).");
        }

        foreach (var name in options.Versions.Keys)
        {
            if (TerraformVersionResolver.VersionKey.TryParse(name) is null)
            {
                errors.Add($"Terraform:Versions:{name} is not a version (expected e.g. 1.9.8 or tofu-1.8.0).");
            }
        }

        foreach (var name in options.Environment.Keys)
        {
            if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Any(char.IsWhiteSpace))
            {
                errors.Add($"Terraform:Environment has an invalid variable name \"{name}\".");
            }
        }

        switch (kind)
        {
            case Sandbox when !string.IsNullOrWhiteSpace(options.Runner) && !BwrapWorks.Value:
                errors.Add("Terraform:Runner is sandbox but bubblewrap does not work here: install it (Debian: apt-get install bubblewrap) and allow unprivileged user namespaces, or choose Terraform:Runner=process (weaker, docs/runners.md).");
                break;
            case Sandbox:
                errors.AddRange(SandboxTerraformRunner.Validate(options, workDirectory, protectedPaths));
                break;
            case Docker or Kubernetes when options.Cpus is { Length: > 0 } cpus && !double.TryParse(cpus, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _):
                errors.Add($"Terraform:Cpus \"{cpus}\" is not a number.");
                break;
        }

        if (kind == Kubernetes && string.IsNullOrWhiteSpace(options.Kubernetes.WorkVolumeClaim))
        {
            errors.Add("Terraform:Runner is kubernetes but Terraform:Kubernetes:WorkVolumeClaim is empty: terraform Jobs reach the workspace through a ReadWriteMany volume mounted at the work directory (docs/runners.md).");
        }

        if (options.MemoryMiB is <= 0)
        {
            errors.Add($"Terraform:MemoryMiB must be positive (it is {options.MemoryMiB}).");
        }

        return errors;
    }

    /// <summary>Builds the configured runner; throws <see cref="InvalidOperationException"/> with every problem when the configuration cannot work.</summary>
    public static ITerraformRunner Create(
        TerraformOptions options, string workDirectory, ILoggerFactory? loggerFactory = null, IReadOnlyList<string>? protectedPaths = null)
    {
        if (Validate(options, workDirectory, protectedPaths) is { Count: > 0 } errors)
        {
            throw new InvalidOperationException("Terraform runner configuration: " + string.Join(" ", errors));
        }

        var kind = EffectiveKind(options);
        if (string.IsNullOrWhiteSpace(options.Runner) && kind == Process)
        {
            loggerFactory?.CreateLogger(typeof(TerraformRunnerFactory)).LogWarning(
                "bubblewrap is not available: terraform runs with runner 'process', which scrubs the environment but does not hide files. Install bubblewrap for the sandbox (docs/runners.md).");
        }

        return kind switch
        {
            Sandbox => new SandboxTerraformRunner(options, workDirectory, "bwrap", protectedPaths),
            Process => new ProcessTerraformRunner(options),
            Docker => new DockerTerraformRunner(options, workDirectory),
            _ => new KubernetesTerraformRunner(options, workDirectory, loggerFactory),
        };
    }

    /// <summary>The tool for a project under this configuration: binary paths for sandbox/process, images for docker/kubernetes.</summary>
    public static ToolResolution ResolveTool(TerraformOptions options, VersionHints hints)
    {
        var images = UsesImages(EffectiveKind(options));
        var template = images ? options.Image ?? TerraformVersionResolver.DefaultImageTemplate : null;
        return TerraformVersionResolver.Resolve(hints, options.Versions, images ? template! : options.Binary, template);
    }

    private static bool Probe(string file, IReadOnlyList<string> arguments)
    {
        try
        {
            var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in arguments)
            {
                start.ArgumentList.Add(a);
            }

            using var process = System.Diagnostics.Process.Start(start);
            if (process is null)
            {
                return false;
            }

            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
