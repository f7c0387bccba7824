using System.Diagnostics;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;
using Xunit.Abstractions;

namespace Ensemble.Tests.Discovery;

/// <summary>
/// The monorepo shape from the scale issue: 10,000 projects, 1,000 modules in chains of ten, ~93,000 paths.
/// Asserts the results at that size; timings are printed, not asserted (shared CI machines are too noisy).
/// </summary>
[Trait("Category", "Scale")]
public class DiscoveryScaleTests(ITestOutputHelper output)
{
    [Fact]
    public void Affected_TenThousandProjectsThroughModuleChains_AllMarkedWithChains()
    {
        var (texts, paths) = GenerateMonorepo();

        var watch = Stopwatch.StartNew();
        var facts = new Dictionary<string, HclFacts>(texts.Count, StringComparer.Ordinal);
        foreach (var (path, text) in texts)
        {
            facts[path] = HclScanner.Scan(text);
        }
        var scan = watch.Elapsed;
        watch.Restart();
        var snapshot = RepoSnapshot.Build(facts, paths);
        var build = watch.Elapsed;
        watch.Restart();
        // The last module of each chain of ten: every project using any module of that chain depends on it.
        var changes = new List<ChangedFile>();
        for (var m = 9; m < 1000; m += 10)
        {
            changes.Add(new ChangedFile($"modules/m{m:0000}/main.tf", ChangeKind.Modified));
        }
        var result = ProjectDiscovery.Affected(snapshot, snapshot, changes);
        var affected = watch.Elapsed;

        output.WriteLine(
            $"{paths.Count} paths, {texts.Count} .tf files: scan {scan.TotalMilliseconds:F0} ms, " +
            $"build {build.TotalMilliseconds:F0} ms, affected {affected.TotalMilliseconds:F0} ms");
        Assert.Equal(10000, snapshot.Projects.Count);
        Assert.Empty(snapshot.Problems);
        Assert.Equal(10000, result.Projects.Count);
        var first = result.Projects[0];
        Assert.Equal("envs/team00/p00000", first.Path);
        Assert.Equal(
            ["modules/m0009/main.tf changed (envs/team00/p00000 → modules/m0000 → modules/m0001 → modules/m0002 → modules/m0003 → " +
             "modules/m0004 → modules/m0005 → modules/m0006 → modules/m0007 → modules/m0008 → modules/m0009)"],
            first.Reasons);
    }

    private static (Dictionary<string, string> Texts, List<string> Paths) GenerateMonorepo()
    {
        const string header = "/**\n * Copyright\n */\n\n";
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        var paths = new List<string>();
        for (var m = 0; m < 1000; m++)
        {
            var next = m % 10 == 9 ? "" : $"module \"next\" {{\n  source = \"../m{m + 1:0000}\"\n  name = \"${{var.x}}-a\"\n}}\n";
            texts[$"modules/m{m:0000}/main.tf"] = header + next +
                "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x-${var.env}\"\n" +
                "  policy = templatefile(\"${path.module}/p.json.tpl\", { a = 1 })\n  tags = {\n    Name = \"b\"\n  }\n}\n";
            texts[$"modules/m{m:0000}/variables.tf"] = header + "variable \"x\" {\n  type = string\n  default = \"y\"\n}\n";
            paths.Add($"modules/m{m:0000}/p.json.tpl");
        }
        for (var p = 0; p < 10000; p++)
        {
            var dir = $"envs/team{p % 50:00}/p{p:00000}";
            texts[$"{dir}/backend.tf"] = header +
                $"terraform {{\n  required_version = \">= 1.5\"\n  backend \"s3\" {{\n    bucket = \"state\"\n    key = \"{dir}\"\n  }}\n}}\n";
            texts[$"{dir}/main.tf"] = header +
                $"module \"a\" {{\n  source = \"../../../modules/m{p % 1000:0000}\"\n}}\n" +
                "module \"b\" {\n  source = \"terraform-aws-modules/vpc/aws\"\n  version = \"5.0\"\n}\n" +
                "locals {\n  s = <<EOF\n{ \"a\": \"}\" }\nEOF\n}\n";
            texts[$"{dir}/variables.tf"] = header + "variable \"env\" {\n  type = string\n}\n";
            paths.Add($"{dir}/terraform.tfvars");
            paths.Add($"{dir}/.terraform.lock.hcl");
            for (var k = 0; k < 4; k++)
            {
                paths.Add($"{dir}/files/f{k}.json");
            }
        }
        paths.AddRange(texts.Keys);
        return (texts, paths);
    }
}
