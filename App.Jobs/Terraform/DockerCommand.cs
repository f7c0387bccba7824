using System.Globalization;

namespace Ensemble.Jobs.Terraform;

/// <summary>One <c>docker run</c> of terraform.</summary>
/// <param name="ContainerName">Unique per run, so a cancelled run can be stopped with <c>docker kill</c>.</param>
/// <param name="User"><c>uid:gid</c> of Ensemble's process, so files written to the workspace stay Ensemble's.</param>
/// <param name="EnvironmentNames">Variables passed by name only (<c>--env NAME</c>): their values travel in the client's environment, never on its command line.</param>
public sealed record DockerSpec(
    string Docker,
    string ContainerName,
    string Image,
    string User,
    string Workspace,
    string WorkingDirectory,
    IReadOnlyList<string> Arguments,
    IReadOnlyList<string> EnvironmentNames,
    string? Cpus,
    int? MemoryMiB);

/// <summary>Builds the docker command line for one terraform run. Pure; see docs/runners.md.</summary>
public static class DockerCommand
{
    /// <summary>The program and its arguments (program first).</summary>
    public static IReadOnlyList<string> Build(DockerSpec spec)
    {
        List<string> args =
        [
            spec.Docker, "run", "--rm", "--name", spec.ContainerName,
            // A real init forwards the stop signal to terraform and reaps provider processes.
            "--init",
            "--user", spec.User,
            "--read-only", "--tmpfs", "/tmp",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--label", "ensemble.terraform=1",
        ];
        if (spec.Cpus is { Length: > 0 } cpus)
        {
            args.AddRange(["--cpus", cpus]);
        }

        if (spec.MemoryMiB is { } memory)
        {
            args.AddRange(["--memory", string.Create(CultureInfo.InvariantCulture, $"{memory}m")]);
        }

        // Same path inside as outside, so absolute arguments such as -out={workspace}/out/plan.tfplan stay valid.
        args.AddRange(["--volume", $"{spec.Workspace}:{spec.Workspace}:rw", "--workdir", spec.WorkingDirectory]);
        foreach (var name in spec.EnvironmentNames)
        {
            args.AddRange(["--env", name]);
        }

        args.Add(spec.Image);
        args.AddRange(spec.Arguments);
        return args;
    }

    /// <summary>Host variables the docker client itself needs to reach the engine (not passed into the container).</summary>
    public static readonly IReadOnlyList<string> ClientVariables =
    [
        "PATH", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "XDG_RUNTIME_DIR", "CONTAINER_HOST",
    ];

    /// <summary>
    /// The client's environment: terraform's variables (to be forwarded by name) plus what the client needs. The host
    /// PATH is the client's, not the container's: the image keeps its own.
    /// </summary>
    public static (IReadOnlyDictionary<string, string> ClientEnvironment, IReadOnlyList<string> ContainerNames) Environment(
        IReadOnlyDictionary<string, string> terraform, Func<string, string?> host)
    {
        var client = new Dictionary<string, string>(terraform, StringComparer.Ordinal);
        var names = terraform.Keys.Where(n => n != "PATH").Order(StringComparer.Ordinal).ToList();
        foreach (var name in ClientVariables)
        {
            if (host(name) is { } value)
            {
                client[name] = value;
            }
            else if (name != "PATH")
            {
                client.Remove(name);
            }
        }

        // HOME is the workspace's for terraform; the client still finds its own configuration.
        if (host("DOCKER_CONFIG") is null && host("HOME") is { } home)
        {
            client["DOCKER_CONFIG"] = Path.Combine(home, ".docker");
        }

        return (client, names);
    }
}
