using System.Globalization;
using System.Text.Json.Nodes;

namespace Ensemble.TerraformSim;

/// <summary>The CLI commands. Output goes to stdout, diagnostics to stderr, exit codes as terraform's.</summary>
public sealed class Commands(TextWriter stdout, TextWriter stderr)
{
    public int Run(IReadOnlyList<string> args)
    {
        var rest = args.ToList();
        var dir = Directory.GetCurrentDirectory();
        if (rest.Count > 0 && rest[0].StartsWith("-chdir=", StringComparison.Ordinal))
        {
            dir = Path.GetFullPath(rest[0]["-chdir=".Length..]);
            rest.RemoveAt(0);
            if (!Directory.Exists(dir))
            {
                stderr.WriteLine($"Error handling -chdir option: chdir {dir}: no such file or directory");
                return 1;
            }
        }

        if (rest.Count == 0)
        {
            stderr.WriteLine("Usage: terraform [global options] <subcommand> [args]\n\nterraform-sim supports: init, plan, apply, show, version");
            return 127;
        }

        var command = rest[0] switch
        {
            "-version" or "--version" or "-v" => "version",
            var c => c,
        };
        var (line, error) = CommandLine.Parse(command, rest.Skip(1).ToList());
        if (line is null)
        {
            stderr.WriteLine(error);
            return 1;
        }

        try
        {
            return command switch
            {
                "version" => Version(line),
                "init" => Init(dir, line),
                "plan" => Plan(dir, line),
                "apply" => Apply(dir, line),
                "show" => Show(dir, line),
                _ => Unknown(command),
            };
        }
        catch (DiagnosticException e)
        {
            stderr.Write(e.Diagnostic.Render(line.NoColor));
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or FormatException)
        {
            // A bug or an environment problem: still exit 1 with a diagnostic, as terraform would, not a crash.
            stderr.Write(new Diagnostic("terraform-sim internal error", e.ToString()).Render(line.NoColor));
            return 1;
        }
    }

    private int Unknown(string command)
    {
        stderr.WriteLine($"Terraform has no command named \"{command}\".\n\nTo see all of Terraform's top-level commands, run:\n  terraform -help\n");
        return 1;
    }

    private int Version(CommandLine line)
    {
        if (line.Flag("json"))
        {
            stdout.WriteLine(new JsonObject
            {
                ["terraform_version"] = SimInfo.TerraformVersion,
                ["platform"] = "linux_amd64",
                ["provider_selections"] = new JsonObject(),
                ["terraform_outdated"] = false,
            }.ToJsonString(JsonTypes.Indented));
        }
        else
        {
            stdout.WriteLine($"Terraform v{SimInfo.TerraformVersion}\non linux_amd64 (ensemble terraform-sim)");
        }

        return 0;
    }

    private static Configuration LoadChecked(string dir)
    {
        var config = ConfigLoader.Load(dir);
        if (config.RequiredVersion is { } constraint && !VersionConstraint.Allows(constraint, SimInfo.TerraformVersion))
        {
            throw new DiagnosticException(new Diagnostic(
                "Unsupported Terraform Core version",
                $"This configuration does not support Terraform version {SimInfo.TerraformVersion}. To proceed, either choose another supported Terraform version or update this version constraint. Version constraints are normally set for good reason, so updating the constraint may lead to other errors or unexpected behavior."));
        }

        return config;
    }

    private int Init(string dir, CommandLine line)
    {
        var config = LoadChecked(dir);
        if (!config.HasFiles)
        {
            stdout.WriteLine("Terraform initialized in an empty directory!\n\nThe directory has no Terraform configuration files. You may begin working\nwith Terraform immediately by creating Terraform configuration files.");
            return 0;
        }

        stdout.WriteLine("Initializing the backend...");
        stdout.WriteLine($"\nSuccessfully configured the backend \"{config.Backend.Type}\"! Terraform will automatically\nuse this backend unless the backend configuration changes.");
        var calls = config.Root.SelfAndDescendants().SelectMany(m => m.Calls.Select(c => (Path: Addresses.Child(m.Path, c.Name), c.Source))).ToList();
        if (calls.Count > 0)
        {
            stdout.WriteLine("Initializing modules...");
            foreach (var (path, source) in calls)
            {
                stdout.WriteLine($"- {path.Replace("module.", "", StringComparison.Ordinal)} in {source}");
            }
        }

        stdout.WriteLine("Initializing provider plugins...\n- Using the built-in registry.terraform.io/hashicorp/sim (terraform-sim)");
        WorkingDir.Initialize(dir, config);
        stdout.WriteLine("\nTerraform has been successfully initialized!\n");
        stdout.WriteLine("You may now begin working with Terraform. Try running \"terraform plan\" to see\nany changes that are required for your infrastructure. All Terraform commands\nshould now work.");
        return 0;
    }

    private int Plan(string dir, CommandLine line)
    {
        var config = LoadChecked(dir);
        var destroy = line.Flag("destroy");
        if (!config.HasFiles && !destroy)
        {
            throw new DiagnosticException(new Diagnostic(
                "No configuration files",
                "Plan requires configuration to be present. Planning without a configuration would mark everything for destruction, which is normally not what is desired. If you would like to destroy everything, run plan with the -destroy option. Otherwise, create a Terraform configuration file (.tf file) and try again."));
        }

        WorkingDir.RequireInitialized(dir, config);
        var plan = MakePlan(dir, config, line, destroy);
        stdout.Write(PlanText.Render(plan.ResourceChanges, plan.OutputChanges, destroy));
        if (line.Value("out") is { } outFile)
        {
            PlanFile.Write(Path.Combine(dir, outFile), plan);
            if (plan.HasChanges)
            {
                stdout.Write(PlanText.SavedTo(outFile));
            }
        }
        else if (plan.HasChanges)
        {
            stdout.Write(PlanText.NotSaved());
        }

        return plan.HasChanges && line.Flag("detailed-exitcode") ? 2 : 0;
    }

    private SimPlan MakePlan(string dir, Configuration config, CommandLine line, bool destroy)
    {
        var statePath = Path.Combine(dir, config.Backend.StatePath);
        using var stateLock = StateLock.Acquire(statePath, line.FlagOr("lock", true), LockTimeout(line));
        var state = SimState.Read(statePath);
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var assignment in line.Variables)
        {
            var eq = assignment.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new DiagnosticException(new Diagnostic("Invalid -var option", $"The given -var option \"{assignment}\" is not correctly specified. It must be a variable name and value separated an equals sign, like -var=\"key=value\"."));
            }

            variables[assignment[..eq]] = assignment[(eq + 1)..];
        }

        var options = new PlanOptions(destroy, line.FlagOr("refresh", true), variables);
        var timestamp = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return new Planner(stdout).Plan(config, state, Guid.NewGuid().ToString(), options, timestamp);
    }

    private static TimeSpan LockTimeout(CommandLine line)
    {
        try
        {
            return line.Value("lock-timeout") is { } t ? CommandLine.ParseDuration(t) : TimeSpan.Zero;
        }
        catch (FormatException e)
        {
            throw new DiagnosticException(new Diagnostic("Invalid -lock-timeout", e.Message));
        }
    }

    private int Apply(string dir, CommandLine line)
    {
        SavedPlan saved;
        if (line.Positional.Count > 0)
        {
            var config = ConfigLoader.Load(dir);
            WorkingDir.RequireInitialized(dir, config);
            saved = PlanFile.Read(Path.Combine(dir, line.Positional[0]));
        }
        else
        {
            // Plan and apply in one go; without -auto-approve real terraform would ask, which automation cannot answer.
            if (!line.Flag("auto-approve"))
            {
                throw new DiagnosticException(new Diagnostic("No value for required approval", "terraform-sim cannot ask for approval interactively; pass -auto-approve or a saved plan file."));
            }

            var config = LoadChecked(dir);
            WorkingDir.RequireInitialized(dir, config);
            var plan = MakePlan(dir, config, line, line.Flag("destroy"));
            stdout.Write(PlanText.Render(plan.ResourceChanges, plan.OutputChanges, plan.Destroy));
            var planJson = PlanJson.Render(plan);
            var locations = plan.ResourceChanges.Where(c => c.Location is not null).ToDictionary(c => c.Address, c => c.Location!, StringComparer.Ordinal);
            saved = new SavedPlan(plan.Lineage, plan.Serial, plan.StateExisted, plan.Destroy, plan.Backend, planJson, PlanJson.ReadResourceChanges(planJson, locations), plan.OutputChanges);
            stdout.WriteLine();
        }

        var statePath = Path.Combine(dir, saved.Backend.StatePath);
        using var stateLock = StateLock.Acquire(statePath, line.FlagOr("lock", true), LockTimeout(line));
        var current = SimState.Read(statePath);
        var stale = current is null ? saved.StateExisted : !saved.StateExisted || current.Lineage != saved.Lineage || current.Serial != saved.Serial;
        if (stale)
        {
            throw new DiagnosticException(new Diagnostic(
                "Saved plan is stale",
                "The given plan file can no longer be applied because the state was changed by\nanother operation after the plan was created."));
        }

        var result = new Applier(stdout).Apply(saved, current ?? SimState.Empty(saved.Lineage));
        if (result.NewState is not null)
        {
            result.NewState.Write(statePath);
        }

        if (result.Error is not null)
        {
            stderr.Write(result.Error.Render(line.NoColor));
            return 1;
        }

        stdout.WriteLine();
        stdout.WriteLine(saved.Destroy
            ? $"Destroy complete! Resources: {result.Destroyed} destroyed."
            : $"Apply complete! Resources: {result.Added} added, {result.Changed} changed, {result.Destroyed} destroyed.");
        var outputs = (result.NewState ?? current)?.Outputs ?? new Dictionary<string, StateOutput>();
        if (outputs.Count > 0 && !saved.Destroy)
        {
            stdout.WriteLine("\nOutputs:\n");
            foreach (var (name, output) in outputs.OrderBy(o => o.Key, StringComparer.Ordinal))
            {
                stdout.WriteLine($"{name} = {(output.Sensitive ? "<sensitive>" : PlanText.Value(output.Value))}");
            }
        }

        return 0;
    }

    private int Show(string dir, CommandLine line)
    {
        if (line.Positional.Count == 0)
        {
            var config = ConfigLoader.Load(dir);
            var state = SimState.Read(Path.Combine(dir, config.Backend.StatePath));
            if (line.Flag("json"))
            {
                stdout.WriteLine(state is null
                    ? new JsonObject { ["format_version"] = "1.0" }.ToJsonString()
                    : PlanJson.StateValues(state).ToJsonString());
            }
            else
            {
                stdout.WriteLine(state is null || state.Resources.Count == 0 ? "No state." : string.Join('\n', state.Resources.Select(r => $"# {r.Address}:")));
            }

            return 0;
        }

        var saved = PlanFile.Read(Path.Combine(dir, line.Positional[0]));
        if (line.Flag("json"))
        {
            stdout.WriteLine(saved.PlanJson.ToJsonString());
        }
        else
        {
            stdout.Write(PlanText.Render(saved.ResourceChanges, saved.OutputChanges, saved.Destroy));
        }

        return 0;
    }
}
