namespace Ensemble.Jobs.Terraform;

/// <summary>The few filesystem look-ups the runners make about the host (kept apart from the pure command builders).</summary>
internal static class HostPaths
{
    /// <summary>The absolute, symlink-resolved path of an executable name or path; null when it cannot be found.</summary>
    public static string? ResolveExecutable(string name, string? pathVariable)
    {
        string? found = null;
        if (name.Contains('/', StringComparison.Ordinal))
        {
            found = File.Exists(name) ? Path.GetFullPath(name) : null;
        }
        else
        {
            foreach (var dir in (pathVariable ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    found = Path.GetFullPath(candidate);
                    break;
                }
            }
        }

        if (found is null)
        {
            return null;
        }

        return new FileInfo(found).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? found;
    }

    /// <summary>For a framework-dependent .NET apphost (the stand-in): the .NET installation it needs, else null.</summary>
    public static string? DotnetRootFor(string executable)
    {
        if (!File.Exists(Path.ChangeExtension(executable, null) + ".runtimeconfig.json"))
        {
            return null;
        }

        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && Directory.Exists(root))
        {
            return Path.GetFullPath(root);
        }

        return ResolveExecutable("dotnet", Environment.GetEnvironmentVariable("PATH")) is { } dotnet ? Path.GetDirectoryName(dotnet) : null;
    }

    public static IReadOnlyList<SystemDirectory> SystemDirectories() =>
    [
        .. BubblewrapCommand.SystemDirectoryNames
            .Select(path => new DirectoryInfo(path))
            .Where(d => d.Exists || d.LinkTarget is not null)
            .Select(d => new SystemDirectory(d.FullName, d.LinkTarget)),
    ];
}
