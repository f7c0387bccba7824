using System.Text.Json.Nodes;
using Ensemble.TerraformSim.Hcl;

namespace Ensemble.TerraformSim;

public sealed record ResourceConfig(string ModulePath, string Type, string Name, HclBody Body, HclFile File, int Line)
{
    public string Address => Addresses.Resource(ModulePath, Type, Name);

    public string Context => $"resource \"{Type}\" \"{Name}\"";

    public SourceRange Range => File.Range(Line, Context);
}

public sealed record OutputConfig(string Name, HclBody Body, HclFile File, int Line);

public sealed record VariableConfig(string Name, Expr? Default, HclFile File, int Line);

public sealed record ModuleCall(string Name, string Source, HclBody Body, HclFile File, int Line, ModuleConfig Module);

/// <summary>One module: its path ("" for root, "module.a.module.b" for nested) and what it declares.</summary>
public sealed record ModuleConfig(
    string Path,
    IReadOnlyList<ResourceConfig> Resources,
    IReadOnlyList<OutputConfig> Outputs,
    IReadOnlyList<VariableConfig> Variables,
    IReadOnlyList<ModuleCall> Calls)
{
    public IEnumerable<ModuleConfig> SelfAndDescendants() => Calls.SelectMany(c => c.Module.SelfAndDescendants()).Prepend(this);
}

/// <summary>Backend type and where the sim keeps its state, relative to the working dir unless absolute.</summary>
public sealed record BackendConfig(string Type, string StatePath)
{
    public JsonObject ToJson() => new() { ["type"] = Type, ["path"] = StatePath };
}

public sealed record Configuration(ModuleConfig Root, BackendConfig Backend, string? RequiredVersion, bool HasFiles);

public static class Addresses
{
    public static string Resource(string modulePath, string type, string name) =>
        modulePath.Length == 0 ? $"{type}.{name}" : $"{modulePath}.{type}.{name}";

    public static string Child(string parent, string name) => parent.Length == 0 ? $"module.{name}" : $"{parent}.module.{name}";
}

/// <summary>Reads *.tf files of a directory and, recursively, of the local modules it calls.</summary>
public static class ConfigLoader
{
    private const int MaxModuleDepth = 16;

    public static Configuration Load(string workingDir)
    {
        var files = ReadDir(workingDir, workingDir);
        BackendConfig? backend = null;
        string? requiredVersion = null;
        foreach (var file in files)
        {
            foreach (var tf in file.Body.BlocksOf("terraform"))
            {
                if (tf.Body.Attribute("required_version") is { } rv)
                {
                    requiredVersion = Template.Evaluate(rv.Value, Empty, file, "terraform")?.ToString();
                }

                foreach (var b in tf.Body.BlocksOf("backend"))
                {
                    if (backend is not null)
                    {
                        throw new DiagnosticException(new Diagnostic("Duplicate backend configuration", "A module may have only one backend configuration.", file.Range(b.Line, "terraform")));
                    }

                    backend = ReadBackend(b, file);
                }
            }
        }

        var root = LoadModule(workingDir, workingDir, "", files, [Path.GetFullPath(workingDir)]);
        return new Configuration(root, backend ?? new BackendConfig("local", "terraform.tfstate"), requiredVersion, files.Count > 0);
    }

    private static readonly IReadOnlyDictionary<string, JsonNode?> Empty = new Dictionary<string, JsonNode?>();

    private static BackendConfig ReadBackend(HclBlock block, HclFile file)
    {
        if (block.Labels.Count != 1)
        {
            throw new DiagnosticException(new Diagnostic("Missing name for backend", "A backend block needs exactly one label: the backend type.", file.Range(block.Line, "terraform")));
        }

        var type = block.Labels[0];
        if (type != "local")
        {
            // Other backends keep a local file so projects written for them still run under the sim.
            return new BackendConfig(type, $"terraform-sim-{type}.tfstate");
        }

        var path = block.Body.Attribute("path") is { } p
            ? Template.Evaluate(p.Value, Empty, file, "backend \"local\"")?.GetValue<string>() ?? "terraform.tfstate"
            : "terraform.tfstate";
        return new BackendConfig(type, path);
    }

    private static List<HclFile> ReadDir(string dir, string workingDir)
    {
        if (!Directory.Exists(dir))
        {
            return [];
        }

        return [.. Directory.GetFiles(dir, "*.tf")
            .Order(StringComparer.Ordinal)
            .Select(f => Parser.Parse(File.ReadAllText(f), Display(f, workingDir)))];
    }

    private static string Display(string path, string workingDir) =>
        Path.GetRelativePath(workingDir, path).Replace('\\', '/');

    private static ModuleConfig LoadModule(string dir, string workingDir, string modulePath, IReadOnlyList<HclFile> files, IReadOnlyList<string> ancestors)
    {
        var resources = new List<ResourceConfig>();
        var outputs = new List<OutputConfig>();
        var variables = new List<VariableConfig>();
        var calls = new List<ModuleCall>();
        foreach (var file in files)
        {
            foreach (var block in file.Body.Blocks)
            {
                switch (block.Type)
                {
                    case "resource":
                        RequireLabels(block, file, 2);
                        var resource = new ResourceConfig(modulePath, block.Labels[0], block.Labels[1], block.Body, file, block.Line);
                        if (resources.Find(r => r.Address == resource.Address) is { } previous)
                        {
                            throw new DiagnosticException(new Diagnostic(
                                $"Duplicate resource \"{resource.Type}\" configuration",
                                $"A {resource.Type} resource named \"{resource.Name}\" was already declared at {previous.File.DisplayPath}:{previous.Line}. Resource names must be unique per type in each module.",
                                resource.Range));
                        }

                        resources.Add(resource);
                        break;
                    case "output":
                        RequireLabels(block, file, 1);
                        outputs.Add(new OutputConfig(block.Labels[0], block.Body, file, block.Line));
                        break;
                    case "variable":
                        RequireLabels(block, file, 1);
                        variables.Add(new VariableConfig(block.Labels[0], block.Body.Attribute("default")?.Value, file, block.Line));
                        break;
                    case "module":
                        RequireLabels(block, file, 1);
                        calls.Add(LoadCall(block, file, dir, workingDir, modulePath, ancestors));
                        break;
                    default:
                        break; // providers, locals, data sources...: not simulated, ignored on purpose
                }
            }
        }

        return new ModuleConfig(modulePath, resources, outputs, variables, calls);
    }

    private static ModuleCall LoadCall(HclBlock block, HclFile file, string dir, string workingDir, string parentPath, IReadOnlyList<string> ancestors)
    {
        var context = block.Describe();
        var sourceAttr = block.Body.Attribute("source")
            ?? throw new DiagnosticException(new Diagnostic("Missing required argument", "The argument \"source\" is required, but no definition was found.", file.Range(block.Line, context)));
        var source = Template.Evaluate(sourceAttr.Value, Empty, file, context)?.ToString() ?? "";
        if (!source.StartsWith("./", StringComparison.Ordinal) && !source.StartsWith("../", StringComparison.Ordinal))
        {
            throw new DiagnosticException(new Diagnostic(
                "Unsupported module source",
                $"terraform-sim loads only local modules (\"./\" or \"../\"); \"{source}\" would need a download.",
                file.Range(sourceAttr.Line, context)));
        }

        var childDir = Path.GetFullPath(Path.Combine(dir, source));
        if (!Directory.Exists(childDir))
        {
            throw new DiagnosticException(new Diagnostic(
                "Unreadable module directory",
                $"The directory {Display(childDir, workingDir)} does not exist or cannot be read.",
                file.Range(sourceAttr.Line, context)));
        }

        if (ancestors.Contains(childDir) || ancestors.Count > MaxModuleDepth)
        {
            throw new DiagnosticException(new Diagnostic(
                "Module recursion",
                $"The module \"{block.Labels[0]}\" calls itself, directly or through other modules.",
                file.Range(block.Line, context)));
        }

        var path = Addresses.Child(parentPath, block.Labels[0]);
        var module = LoadModule(childDir, workingDir, path, ReadDir(childDir, workingDir), [.. ancestors, childDir]);
        return new ModuleCall(block.Labels[0], source, block.Body, file, block.Line, module);
    }

    private static void RequireLabels(HclBlock block, HclFile file, int count)
    {
        if (block.Labels.Count != count)
        {
            throw new DiagnosticException(new Diagnostic(
                $"Missing name for {block.Type}",
                $"A {block.Type} block needs {count} label(s); found {block.Labels.Count}.",
                file.Range(block.Line, null)));
        }
    }
}
