using System.Text;

namespace Ensemble.Bench.Discovery;

/// <summary>
/// Writes the benchmark monorepo with one <c>git fast-import</c> (seconds, not 100,000 <c>git add</c>s): 10,000
/// projects under envs/teamNN, 1,000 modules in chains of ten (each project calls one, each module the next),
/// 5,000 docs, 100,000 files; then a second commit changing 1,000 files (module and project .tf, tfvars, docs).
/// </summary>
internal static class MonorepoGenerator
{
    public const int Projects = 10_000;
    public const int Modules = 1_000;
    private const int Docs = 5_000;
    private const string Header = "/**\n * Copyright Acme\n */\n\n";

    public static (string BaseSha, string HeadSha, int Files, int Changed) Generate(string gitDir)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(gitDir)!);
        Git.RunAsync(gitDir, ["init", "--bare", "--quiet", "--initial-branch=main", gitDir]).GetAwaiter().GetResult();

        var files = Files().ToList();
        var texts = files.ToDictionary(f => f.Path, f => f.Text, StringComparer.Ordinal);
        var changed = Changed(texts.Keys.ToHashSet(StringComparer.Ordinal)).ToList();
        using var stream = new MemoryStream();
        WriteCommit(stream, "base", null, files);
        WriteCommit(stream, "change 1,000 files", ":1", changed.Select(p => (p, texts[p] + "# changed\n")));
        stream.Position = 0;
        Git.RunAsync(gitDir, ["fast-import", "--quiet"], stream).GetAwaiter().GetResult();
        var shas = Encoding.ASCII.GetString(Git.RunAsync(gitDir, ["rev-parse", "main~1", "main"]).GetAwaiter().GetResult())
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return (shas[0], shas[1], files.Count, changed.Count);
    }

    /// <summary>The shas and counts of a repository generated before (kept with --work).</summary>
    public static (string BaseSha, string HeadSha, int Files, int Changed) Existing(string gitDir)
    {
        var shas = Encoding.ASCII.GetString(Git.RunAsync(gitDir, ["rev-parse", "main~1", "main"]).GetAwaiter().GetResult())
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var files = Encoding.ASCII.GetString(Git.RunAsync(gitDir, ["ls-tree", "-r", "--name-only", "-z", shas[0]]).GetAwaiter().GetResult())
            .Count(c => c == '\0');
        var changed = Encoding.ASCII.GetString(Git.RunAsync(gitDir, ["diff", "--name-only", "-z", shas[0], shas[1]]).GetAwaiter().GetResult())
            .Count(c => c == '\0');
        return (shas[0], shas[1], files, changed);
    }

    private static void WriteCommit(Stream stream, string message, string? from, IEnumerable<(string Path, string Text)> files)
    {
        var mark = from is null ? 1 : 2;
        Write(stream, $"commit refs/heads/main\nmark :{mark}\ncommitter Bench <bench@example.com> {1_700_000_000 + mark} +0000\n");
        WriteData(stream, message);
        if (from is not null)
        {
            Write(stream, $"from {from}\n");
        }

        foreach (var (path, text) in files)
        {
            Write(stream, $"M 100644 inline {path}\n");
            WriteData(stream, text);
        }

        Write(stream, "\n");
    }

    private static void WriteData(Stream stream, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Write(stream, $"data {bytes.Length}\n");
        stream.Write(bytes);
        Write(stream, "\n");
    }

    private static void Write(Stream stream, string text) => stream.Write(Encoding.UTF8.GetBytes(text));

    private static string ModuleDir(int m) => $"modules/m{m:0000}";

    private static string ProjectDir(int p) => $"envs/team{p % 50:00}/p{p:00000}";

    private static IEnumerable<(string Path, string Text)> Files()
    {
        for (var m = 0; m < Modules; m++)
        {
            var dir = ModuleDir(m);
            var next = m % 10 == 9 ? "" : $"module \"next\" {{\n  source = \"../m{m + 1:0000}\"\n  name   = \"${{var.name}}-{m}\"\n}}\n\n";
            yield return ($"{dir}/main.tf", Header + next +
                "resource \"aws_s3_bucket\" \"this\" {\n  bucket = \"acme-${var.name}\"\n" +
                "  policy = templatefile(\"${path.module}/policy.json.tpl\", { name = var.name })\n  tags = {\n    Owner = \"platform\"\n  }\n}\n");
            yield return ($"{dir}/variables.tf", Header + "variable \"name\" {\n  type    = string\n  default = \"x\"\n}\n");
            yield return ($"{dir}/outputs.tf", Header + "output \"arn\" {\n  value = aws_s3_bucket.this.arn\n}\n");
            yield return ($"{dir}/policy.json.tpl", "{ \"Version\": \"2012-10-17\", \"Name\": \"${name}\" }\n");
            yield return ($"{dir}/README.md", $"# Module m{m}\n");
        }

        for (var p = 0; p < Projects; p++)
        {
            var dir = ProjectDir(p);
            yield return ($"{dir}/backend.tf", Header +
                $"terraform {{\n  required_version = \">= 1.5\"\n  backend \"s3\" {{\n    bucket = \"acme-state\"\n    key    = \"{dir}.tfstate\"\n  }}\n}}\n");
            yield return ($"{dir}/main.tf", Header +
                $"module \"app\" {{\n  source = \"../../../{ModuleDir(p % Modules)}\"\n  name   = var.env\n}}\n\n" +
                "module \"vpc\" {\n  source  = \"terraform-aws-modules/vpc/aws\"\n  version = \"5.8.1\"\n}\n\n" +
                "resource \"aws_instance\" \"web\" {\n  user_data = file(\"${path.module}/files/user-data.sh\")\n}\n");
            yield return ($"{dir}/variables.tf", Header + "variable \"env\" {\n  type = string\n}\n");
            yield return ($"{dir}/outputs.tf", Header + "output \"id\" {\n  value = aws_instance.web.id\n}\n");
            yield return ($"{dir}/terraform.tfvars", $"env = \"p{p}\"\n");
            yield return ($"{dir}/.terraform.lock.hcl", "provider \"registry.terraform.io/hashicorp/aws\" {\n  version = \"5.60.0\"\n}\n");
            yield return ($"{dir}/README.md", $"# Project {p}\n");
            yield return ($"{dir}/files/user-data.sh", "#!/bin/sh\necho hello\n");
            yield return ($"{dir}/files/policy.json", "{}\n");
        }

        for (var d = 0; d < Docs; d++)
        {
            yield return ($"docs/section{d % 50:00}/page{d:0000}.md", $"# Page {d}\n\nText.\n");
        }
    }

    /// <summary>10 module main.tf (mid-chain), 490 project main.tf, 250 tfvars, 250 docs.</summary>
    private static IEnumerable<string> Changed(HashSet<string> paths)
    {
        for (var i = 0; i < 10; i++)
        {
            yield return $"{ModuleDir(i * 100 + 5)}/main.tf";
        }

        for (var i = 0; i < 490; i++)
        {
            yield return $"{ProjectDir(i * 20)}/main.tf";
        }

        for (var i = 0; i < 250; i++)
        {
            yield return $"{ProjectDir(i * 40 + 7)}/terraform.tfvars";
        }

        for (var i = 0; i < 250; i++)
        {
            var path = $"docs/section{i * 20 % 50:00}/page{i * 20:0000}.md";
            yield return paths.Contains(path) ? path : throw new InvalidOperationException(path);
        }
    }
}
