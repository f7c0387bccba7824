namespace Ensemble.Jobs.Terraform;

/// <summary>A top-level system directory as found on the host: a real directory, a symlink (merged /usr), or absent.</summary>
public sealed record SystemDirectory(string Path, string? LinkTarget);

/// <summary>Everything the sandbox command depends on, gathered by <see cref="SandboxTerraformRunner"/> from the host.</summary>
/// <param name="Workspace">The run's workspace: the only writable host directory, bound at the same path.</param>
/// <param name="Executable">Absolute path of terraform (or the stand-in) on the host.</param>
/// <param name="SystemDirectories">/bin, /lib, … as they are on the host (/usr is always bound).</param>
/// <param name="ReadOnlyPaths">Extra host paths shown read-only at the same path (the binary's directory, a .NET runtime, operator additions).</param>
/// <param name="Protected">The App's secrets (work directory, content root, key file, database): hidden if a read-only mount would show them.</param>
public sealed record BubblewrapSpec(
    string Bwrap,
    string Workspace,
    string WorkingDirectory,
    string Executable,
    IReadOnlyList<string> Arguments,
    IReadOnlyList<SystemDirectory> SystemDirectories,
    IReadOnlyList<string> ReadOnlyPaths,
    IReadOnlyList<ProtectedPath> Protected);

/// <summary>A host path terraform must never see.</summary>
public sealed record ProtectedPath(string Path, bool IsDirectory);

/// <summary>Builds the bubblewrap command line for one terraform run. Pure; see docs/runners.md for what it shows.</summary>
public static class BubblewrapCommand
{
    /// <summary>Top-level directories that hold programs and libraries on common distributions.</summary>
    public static readonly IReadOnlyList<string> SystemDirectoryNames = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

    /// <summary>
    /// The few files of /etc that name resolution, TLS and user lookup need. Nothing else of /etc (where an App's
    /// configuration could live) is visible.
    /// </summary>
    public static readonly IReadOnlyList<string> EtcFiles =
    [
        "/etc/resolv.conf", "/etc/hosts", "/etc/host.conf", "/etc/nsswitch.conf", "/etc/gai.conf", "/etc/passwd", "/etc/group",
        "/etc/localtime", "/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/crypto-policies", "/etc/alternatives", "/etc/dotnet",
    ];

    /// <summary>The program and its arguments (program first), without environment values: those go in the process environment.</summary>
    public static IReadOnlyList<string> Build(BubblewrapSpec spec)
    {
        List<string> args =
        [
            spec.Bwrap,
            // Own user, pid, ipc, uts, cgroup and mount namespaces; the network stays (providers call cloud APIs).
            "--unshare-all", "--share-net",
            // Dies with the runner; no controlling terminal to inject keystrokes into (CVE-2017-5226).
            "--die-with-parent", "--new-session",
            // The command is the pid namespace's PID 1, without bubblewrap's reaper process in between: one process
            // fewer per sandbox (3–4 ms of CPU here, docs/benchmarks.md). When it exits the kernel kills whatever it
            // left in the namespace; Ensemble stops a run with SIGKILL, which reaches a namespace's PID 1 too.
            "--as-pid-1",
            "--ro-bind", "/usr", "/usr",
        ];
        foreach (var dir in spec.SystemDirectories)
        {
            if (dir.LinkTarget is { } target)
            {
                args.AddRange(["--symlink", target, dir.Path]);
            }
            else
            {
                args.AddRange(["--ro-bind", dir.Path, dir.Path]);
            }
        }

        foreach (var file in EtcFiles)
        {
            args.AddRange(["--ro-bind-try", file, file]);
        }

        args.AddRange(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
        foreach (var path in spec.ReadOnlyPaths)
        {
            args.AddRange(["--ro-bind", path, path]);
        }

        // Belt and braces: a secret that lives below a shown directory (an App installed under /usr, a work directory
        // under /opt/app next to the binary) is covered by an empty directory or file.
        List<string> shown = ["/usr", .. spec.SystemDirectories.Where(d => d.LinkTarget is null).Select(d => d.Path), .. EtcFiles, .. spec.ReadOnlyPaths];
        foreach (var secret in spec.Protected)
        {
            if (shown.Any(root => TerraformWorkspace.IsSameOrInside(secret.Path, root)))
            {
                args.AddRange(secret.IsDirectory ? ["--tmpfs", secret.Path] : ["--ro-bind", "/dev/null", secret.Path]);
            }
        }

        // Last, so it is writable even if it lies below a read-only or hidden path above.
        args.AddRange(["--bind", spec.Workspace, spec.Workspace, "--chdir", spec.WorkingDirectory, spec.Executable]);
        args.AddRange(spec.Arguments);
        return args;
    }
}
