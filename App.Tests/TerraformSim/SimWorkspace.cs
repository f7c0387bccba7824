using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Ensemble.Tests.TerraformSim;

public sealed record SimResult(int ExitCode, string Stdout, string Stderr);

/// <summary>A temporary terraform working directory driven through the real terraform-sim process.</summary>
public sealed class SimWorkspace : IDisposable
{
    public SimWorkspace() => Dir = Directory.CreateTempSubdirectory("tfsim-").FullName;

    public string Dir { get; }

    public SimWorkspace Write(string relativePath, string content)
    {
        var path = Path.Combine(Dir, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return this;
    }

    public void Delete(string relativePath) => File.Delete(Path.Combine(Dir, relativePath));

    public SimResult Run(params string[] args) => Run(args, new Dictionary<string, string?>());

    public SimResult Run(IReadOnlyList<string> args, IReadOnlyDictionary<string, string?> environment)
    {
        using var process = Start(args, environment);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"terraform-sim {string.Join(' ', args)} did not finish in 30 s");
        }

        return new SimResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    public Process Start(IReadOnlyList<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(SimBinary.Path)
        {
            WorkingDirectory = Dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("terraform-sim did not start");
    }

    /// <summary>init + plan -out, asserting neither crashed; returns the plan result.</summary>
    public SimResult InitAndPlan(string planFile = "tfplan", params string[] extra)
    {
        var init = Run("init", "-input=false", "-no-color");
        Assert.True(init.ExitCode == 0, init.Stderr);
        return Plan(planFile, extra);
    }

    public SimResult Plan(string planFile = "tfplan", params string[] extra) =>
        Run(["plan", "-input=false", "-no-color", "-detailed-exitcode", $"-out={planFile}", .. extra]);

    public SimResult Apply(string planFile = "tfplan") => Run("apply", "-input=false", "-no-color", "-auto-approve", planFile);

    public JsonObject ShowJson(string planFile = "tfplan")
    {
        var show = Run("show", "-json", planFile);
        Assert.True(show.ExitCode == 0, show.Stderr);
        return JsonNode.Parse(show.Stdout)!.AsObject();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp dir must not fail a test.
        }
    }
}
