using Ensemble.Jobs.Terraform;
using Ensemble.Tests.TerraformSim;

namespace Ensemble.Tests.Terraform;

/// <summary>
/// A temporary Ensemble host layout with secrets in it: a work directory (key file, state database, another run's
/// workspace) and a content root (appsettings.json), plus one run's workspace laid out as PlanJob does.
/// </summary>
public sealed class RunnerSandbox : IDisposable
{
    public const string SecretVariable = "GitHub__PrivateKey";
    public const string SecretValue = "-----BEGIN FAKE KEY----- do not show";

    public RunnerSandbox()
    {
        Root = Directory.CreateTempSubdirectory("ens-runner-").FullName;
        WorkDirectory = Path.Combine(Root, "work");
        ContentRoot = Path.Combine(Root, "app");
        Workspace = Path.Combine(WorkDirectory, "workspaces", "run-1-1");
        Source = Path.Combine(Workspace, "src");
        Home = Path.Combine(Workspace, "home");
        Temp = Path.Combine(Workspace, "tmp");
        Output = Path.Combine(Workspace, "out");
        foreach (var dir in new[] { ContentRoot, Source, Home, Temp, Output })
        {
            Directory.CreateDirectory(dir);
        }

        KeyFile = Write(Path.Combine(WorkDirectory, "app.private-key.pem"), "fake private key");
        Database = Write(Path.Combine(WorkDirectory, "ensemble.db"), "fake state database");
        OtherWorkspaceFile = Write(Path.Combine(WorkDirectory, "workspaces", "run-2-1", "src", "secret.tfvars"), "other run's secret");
        AppSettings = Write(Path.Combine(ContentRoot, "appsettings.json"), "{\"GitHub\":{\"WebhookSecret\":\"fake\"}}");
        OwnFile = Write(Path.Combine(Source, "own.txt"), "own content");
        Environment.SetEnvironmentVariable(SecretVariable, SecretValue);
    }

    public string Root { get; }
    public string WorkDirectory { get; }
    public string ContentRoot { get; }
    public string Workspace { get; }
    public string Source { get; }
    public string Home { get; }
    public string Temp { get; }
    public string Output { get; }
    public string KeyFile { get; }
    public string Database { get; }
    public string OtherWorkspaceFile { get; }
    public string AppSettings { get; }
    public string OwnFile { get; }
    public string PlanFile => Path.Combine(Output, "plan.tfplan");

    public IReadOnlyList<string> ProtectedPaths => [ContentRoot, KeyFile, Database];

    public TerraformOptions Options(string runner) => new() { Binary = SimBinary.Path, Runner = runner };

    /// <summary>A configuration whose plan reports what it could read of each secret and of its own workspace.</summary>
    public void WriteHostileProject()
    {
        var probes = new (string Name, string File)[]
        {
            ("key", KeyFile), ("db", Database), ("other", OtherWorkspaceFile), ("settings", AppSettings), ("own", OwnFile),
        };
        var tf = string.Join("\n", probes.Select(p => $"resource \"sim_probe\" \"{p.Name}\" {{\n  env = \"{SecretVariable}\"\n  file = \"{p.File}\"\n}}\n"));
        File.WriteAllText(Path.Combine(Source, "main.tf"), tf);
    }

    public void WriteSlowProject(int seconds) =>
        File.WriteAllText(Path.Combine(Source, "main.tf"), $"resource \"sim_slow\" \"wait\" {{\n  seconds = {seconds}\n}}\n");

    public TerraformInvocation Invocation(params string[] args) => new(Source, args, Home, Temp);

    public TerraformInvocation Plan() => Invocation("plan", "-input=false", "-no-color", "-detailed-exitcode", $"-out={PlanFile}");

    public static async Task<(TerraformResult Result, string Output)> RunAsync(ITerraformRunner runner, TerraformInvocation invocation, CancellationToken cancellationToken = default)
    {
        var lines = new List<string>();
        var result = await runner.RunAsync(invocation, line =>
        {
            lock (lines)
            {
                lines.Add(line);
            }

            return ValueTask.CompletedTask;
        }, cancellationToken);
        lock (lines)
        {
            return (result, string.Join("\n", lines));
        }
    }

    private static string Write(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A test that failed may leave a process holding a file; the temp directory is cleaned later.
        }
    }
}
