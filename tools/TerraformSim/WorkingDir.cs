using System.Text.Json.Nodes;

namespace Ensemble.TerraformSim;

/// <summary>The `.terraform` directory that `init` writes and plan/apply require, as real terraform does.</summary>
public static class WorkingDir
{
    private const string DataDir = ".terraform";

    public static void Initialize(string dir, Configuration config)
    {
        var data = Path.Combine(dir, DataDir);
        Directory.CreateDirectory(Path.Combine(data, "modules"));
        var marker = new JsonObject
        {
            ["version"] = 3,
            ["terraform_version"] = SimInfo.TerraformVersion,
            ["backend"] = new JsonObject
            {
                ["type"] = config.Backend.Type,
                ["config"] = new JsonObject { ["path"] = config.Backend.StatePath },
            },
        };
        File.WriteAllText(Path.Combine(data, "terraform.tfstate"), marker.ToJsonString(JsonTypes.Indented) + "\n");
        var modules = new JsonArray(new JsonObject { ["Key"] = "", ["Source"] = "", ["Dir"] = "." });
        foreach (var (key, source) in ModuleKeys(config.Root))
        {
            modules.Add((JsonNode)new JsonObject { ["Key"] = key, ["Source"] = source });
        }

        File.WriteAllText(Path.Combine(data, "modules", "modules.json"), new JsonObject { ["Modules"] = modules }.ToJsonString() + "\n");
    }

    /// <summary>Fails like terraform when init was never run, the backend changed, or a module call is new.</summary>
    public static void RequireInitialized(string dir, Configuration config)
    {
        var markerPath = Path.Combine(dir, DataDir, "terraform.tfstate");
        if (!File.Exists(markerPath))
        {
            throw BackendInitRequired($"Initial configuration of the requested backend \"{config.Backend.Type}\"");
        }

        var backend = JsonNode.Parse(File.ReadAllText(markerPath))?["backend"];
        if (backend?["type"]?.GetValue<string>() != config.Backend.Type || backend["config"]?["path"]?.GetValue<string>() != config.Backend.StatePath)
        {
            throw BackendInitRequired("Backend configuration block has changed");
        }

        var manifestPath = Path.Combine(dir, DataDir, "modules", "modules.json");
        var installed = File.Exists(manifestPath)
            ? (JsonNode.Parse(File.ReadAllText(manifestPath))?["Modules"]?.AsArray() ?? [])
                .ToDictionary(m => m!["Key"]!.GetValue<string>(), m => m!["Source"]!.GetValue<string>(), StringComparer.Ordinal)
            : [];
        foreach (var (key, source) in ModuleKeys(config.Root))
        {
            if (!installed.TryGetValue(key, out var installedSource) || installedSource != source)
            {
                throw new DiagnosticException(new Diagnostic(
                    "Module not installed",
                    $"This module (\"{key}\") is not yet installed. Run \"terraform init\" to install all modules required by this configuration."));
            }
        }
    }

    private static IEnumerable<(string Key, string Source)> ModuleKeys(ModuleConfig module, string prefix = "") =>
        module.Calls.SelectMany(c =>
        {
            var key = prefix.Length == 0 ? c.Name : $"{prefix}.{c.Name}";
            return ModuleKeys(c.Module, key).Prepend((key, c.Source));
        });

    private static DiagnosticException BackendInitRequired(string reason) => new(new Diagnostic(
        "Backend initialization required, please run \"terraform init\"",
        $"""
        Reason: {reason}

        The "backend" is the interface that Terraform uses to store state,
        perform operations, etc. If this message is showing up, it means that the
        Terraform configuration you're using is using a custom configuration for
        the Terraform backend.

        Changes to backend configurations require reinitialization. This allows
        Terraform to set up the new configuration, copy existing state, etc. Please
        run
        "terraform init" with either the "-reconfigure" or "-migrate-state" flags to
        use the current configuration.

        If the change reason above is incorrect, please verify your configuration
        hasn't changed and try again. At this point, no changes to your existing
        configuration or state have been made.
        """));
}

/// <summary>Terraform-style local state lock: an exclusive lock file beside the state, retried until -lock-timeout.</summary>
public sealed class StateLock : IDisposable
{
    private readonly FileStream? _stream;

    private StateLock(FileStream? stream) => _stream = stream;

    public static StateLock Acquire(string statePath, bool enabled, TimeSpan timeout)
    {
        if (!enabled)
        {
            return new StateLock(null);
        }

        var full = Path.GetFullPath(statePath);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var lockPath = Path.Combine(dir, $".{Path.GetFileName(full)}.lock.info");
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                var stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 4096, FileOptions.DeleteOnClose);
                return new StateLock(stream);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }
            catch (IOException e)
            {
                throw new DiagnosticException(new Diagnostic(
                    "Error acquiring the state lock",
                    $"Error message: {e.Message}\n\nTerraform acquires a state lock to protect the state from being written\nby multiple users at the same time. Please resolve the issue above and try\nagain. For most commands, you can disable locking with the \"-lock=false\"\nflag, but this is not recommended."));
            }
        }
    }

    public void Dispose() => _stream?.Dispose();
}
