using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;

namespace Ensemble.Tests.Discovery;

public class ProjectDiscoveryTests
{
    private const string S3 = "terraform {\n  backend \"s3\" {}\n}\n";
    private const string Empty = "# nothing\n";

    private static string Uses(params string[] sources) =>
        string.Concat(sources.Select((s, i) => $"module \"m{i}\" {{\n  source = \"{s}\"\n}}\n"));

    /// <summary>A commit's tree: path → text. Only .tf files are scanned, like the real caller does.</summary>
    private static RepoSnapshot Tree(params (string Path, string Text)[] files)
    {
        var facts = new Dictionary<string, HclFacts>(StringComparer.Ordinal);
        foreach (var (path, text) in files)
        {
            if (path.EndsWith(".tf", StringComparison.Ordinal))
            {
                facts[path] = HclScanner.Scan(text);
            }
        }
        return RepoSnapshot.Build(facts, files.Select(f => f.Path).ToList());
    }

    private static ChangedFile Modified(string path) => new(path, ChangeKind.Modified);

    private static IReadOnlyList<string> Paths(DiscoveryResult result) => result.Projects.Select(p => p.Path).ToList();

    private static readonly RepoSnapshot Monorepo = Tree(
        ("envs/prod/backend.tf", S3),
        ("envs/prod/main.tf", Uses("../../modules/app")),
        ("envs/prod/prod.tfvars", ""),
        ("envs/prod/.terraform.lock.hcl", ""),
        ("envs/prod/.terraform-version", ""),
        ("envs/prod/templates/user_data.tpl", ""),
        ("envs/dev/backend.tf", S3),
        ("envs/dev/main.tf", Uses("../../modules/net")),
        ("envs/sandbox/backend.tf", S3),
        ("modules/app/main.tf", Uses("../net", "terraform-aws-modules/vpc/aws")),
        ("modules/net/main.tf", "locals {\n  p = file(\"${path.module}/../../policies/net.json\")\n}\n"),
        ("modules/net/files/rules.json", ""),
        ("modules/unused/main.tf", Empty),
        ("policies/net.json", ""),
        ("README.md", ""),
        ("docs/guide.md", ""));

    public static TheoryData<string, string[]> SingleChanges => new()
    {
        { "envs/prod/main.tf", ["envs/prod"] },
        { "envs/dev/backend.tf", ["envs/dev"] },
        { "envs/prod/prod.tfvars", ["envs/prod"] },
        { "envs/prod/.terraform.lock.hcl", ["envs/prod"] },
        { "envs/prod/.terraform-version", ["envs/prod"] },
        { "envs/prod/templates/user_data.tpl", ["envs/prod"] },
        { "modules/app/main.tf", ["envs/prod"] },
        { "modules/net/main.tf", ["envs/dev", "envs/prod"] },
        { "modules/net/files/rules.json", ["envs/dev", "envs/prod"] },
        { "policies/net.json", ["envs/dev", "envs/prod"] },
        { "modules/unused/main.tf", [] },
        { "README.md", [] },
        { "docs/guide.md", [] },
        { "envs/README.md", [] },
    };

    [Theory]
    [MemberData(nameof(SingleChanges))]
    public void Affected_OneChangedFile_MarksExactlyItsProjects(string path, string[] expected)
    {
        var result = ProjectDiscovery.Affected(Monorepo, Monorepo, [Modified(path)]);

        Assert.Equal(expected, Paths(result));
        Assert.All(result.Projects, p => Assert.False(p.Destroy));
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void Affected_SharedModuleChanged_ReasonShowsChainFromProject()
    {
        var result = ProjectDiscovery.Affected(Monorepo, Monorepo, [Modified("modules/net/main.tf")]);

        Assert.Equal(
            [
                new AffectedProject("envs/dev", false, ["modules/net/main.tf changed (envs/dev → modules/net)"]),
                new AffectedProject("envs/prod", false, ["modules/net/main.tf changed (envs/prod → modules/app → modules/net)"]),
            ],
            result.Projects,
            AffectedComparer.Instance);
    }

    [Fact]
    public void Affected_FileReadByModule_ReasonNamesTheReader()
    {
        var result = ProjectDiscovery.Affected(Monorepo, Monorepo, [Modified("policies/net.json")]);

        Assert.Equal(
            ["policies/net.json changed (read by modules/net) (envs/dev → modules/net)"],
            result.Projects[0].Reasons);
    }

    [Fact]
    public void Affected_BareRelativeReadInModule_ResolvesAgainstEachConsumingProject()
    {
        // Terraform resolves file("config/x.json") against the working directory: the project, not the module.
        var tree = Tree(
            ("a/backend.tf", S3),
            ("a/main.tf", Uses("../modules/m")),
            ("b/backend.tf", S3),
            ("b/main.tf", Uses("../modules/m")),
            ("modules/m/main.tf", "locals {\n  x = file(\"../shared/${terraform.workspace}.json\")\n  y = file(\"../shared/common.json\")\n}\n"),
            ("shared/common.json", ""));

        var result = ProjectDiscovery.Affected(tree, tree, [Modified("shared/common.json")]);

        Assert.Equal(
            [
                new AffectedProject("a", false, ["shared/common.json changed (read by a)"]),
                new AffectedProject("b", false, ["shared/common.json changed (read by b)"]),
            ],
            result.Projects,
            AffectedComparer.Instance);
    }

    [Fact]
    public void Affected_ModuleCycle_ReportedAndTerminates()
    {
        var tree = Tree(
            ("live/backend.tf", S3),
            ("live/main.tf", Uses("../modules/a")),
            ("modules/a/main.tf", Uses("../b")),
            ("modules/b/main.tf", Uses("../c")),
            ("modules/c/main.tf", Uses("../a")));

        var result = ProjectDiscovery.Affected(tree, tree, [Modified("modules/c/main.tf")]);

        Assert.Equal(["live"], Paths(result));
        Assert.Equal(["live/main.tf changed"], ProjectDiscovery.Affected(tree, tree, [Modified("live/main.tf")]).Projects[0].Reasons);
        Assert.Equal(["modules/c/main.tf changed (live → modules/a → modules/b → modules/c)"], result.Projects[0].Reasons);
        Assert.Equal(["module cycle: modules/a → modules/b → modules/c → modules/a"], result.Problems);
    }

    [Fact]
    public void Affected_MissingModuleDirectory_ReportedWithCaller()
    {
        var tree = Tree(
            ("live/backend.tf", S3),
            ("live/main.tf", Uses("../modules/gone", "../modules/docs-only")),
            ("modules/docs-only/README.md", ""));

        var result = ProjectDiscovery.Affected(tree, tree, [Modified("live/main.tf")]);

        Assert.Equal(["live"], Paths(result));
        Assert.Equal(
            [
                "live/main.tf:1: module 'm0' source \"../modules/gone\": module directory modules/gone does not exist",
                "live/main.tf:4: module 'm1' source \"../modules/docs-only\": module directory modules/docs-only has no .tf files",
            ],
            result.Problems);
    }

    [Fact]
    public void Affected_ProblemsElsewhereInRepo_NotReported()
    {
        var tree = Tree(
            ("a/backend.tf", S3),
            ("b/backend.tf", S3),
            ("b/main.tf", "locals {\n  x = \"unterminated\n}\n"));

        var result = ProjectDiscovery.Affected(tree, tree, [Modified("a/backend.tf")]);

        Assert.Empty(result.Problems);
        Assert.Single(tree.Problems);
    }

    [Fact]
    public void Affected_ProjectDirectoryDeleted_IsDestroy()
    {
        var before = Tree(("envs/old/backend.tf", S3), ("envs/old/main.tf", Empty), ("envs/live/backend.tf", S3));
        var after = Tree(("envs/live/backend.tf", S3));

        var result = ProjectDiscovery.Affected(after, before, [
            new ChangedFile("envs/old/backend.tf", ChangeKind.Deleted),
            new ChangedFile("envs/old/main.tf", ChangeKind.Deleted),
        ]);

        Assert.Equal(
            [new AffectedProject("envs/old", true, ["envs/old was removed: planned as destroy"])],
            result.Projects,
            AffectedComparer.Instance);
    }

    [Fact]
    public void Affected_BackendRemovedButDirectoryKept_IsDestroy()
    {
        var before = Tree(("svc/backend.tf", S3), ("svc/main.tf", Empty));
        var after = Tree(("svc/main.tf", Empty));

        var result = ProjectDiscovery.Affected(after, before, [new ChangedFile("svc/backend.tf", ChangeKind.Deleted)]);

        Assert.Equal(
            [new AffectedProject("svc", true, ["svc no longer declares a backend: planned as destroy"])],
            result.Projects,
            AffectedComparer.Instance);
    }

    [Fact]
    public void Affected_ModuleDeletedAlongWithItsCaller_MarksRemainingConsumerThroughBase()
    {
        // The head no longer has modules/old, but prod used it at the base: its plan must show the removal.
        var before = Tree(
            ("prod/backend.tf", S3), ("prod/old.tf", Uses("../modules/old")), ("modules/old/main.tf", Empty));
        var after = Tree(("prod/backend.tf", S3));

        var result = ProjectDiscovery.Affected(after, before, [new ChangedFile("modules/old/main.tf", ChangeKind.Deleted)]);

        Assert.Equal(["prod"], Paths(result));
        Assert.Equal(["modules/old/main.tf deleted (prod → modules/old)"], result.Projects[0].Reasons);
    }

    [Fact]
    public void Affected_NestedProjects_FileBelongsToDeepest()
    {
        var tree = Tree(
            ("terraform/environments/app/backend.tf", S3),
            ("terraform/environments/app/templates/x.tpl", ""),
            ("terraform/environments/app/component/backend.tf", S3),
            ("terraform/environments/app/component/main.tf", Empty),
            ("terraform/environments/app/component/files/y.json", ""));

        Assert.Equal(
            ["terraform/environments/app/component"],
            Paths(ProjectDiscovery.Affected(tree, null, [Modified("terraform/environments/app/component/files/y.json")])));
        Assert.Equal(
            ["terraform/environments/app"],
            Paths(ProjectDiscovery.Affected(tree, null, [Modified("terraform/environments/app/templates/x.tpl")])));
    }

    [Fact]
    public void Affected_ExampleProjectInsideModule_DoesNotMarkModuleConsumers()
    {
        var tree = Tree(
            ("live/backend.tf", S3),
            ("live/main.tf", Uses("../modules/net")),
            ("modules/net/main.tf", Empty),
            ("modules/net/examples/simple/backend.tf", S3),
            ("modules/net/examples/simple/main.tf", Uses("../..")));

        Assert.Equal(
            ["modules/net/examples/simple"],
            Paths(ProjectDiscovery.Affected(tree, null, [Modified("modules/net/examples/simple/main.tf")])));
        Assert.Equal(
            ["live", "modules/net/examples/simple"],
            Paths(ProjectDiscovery.Affected(tree, null, [Modified("modules/net/main.tf")])));
    }

    [Fact]
    public void Affected_RootProject_PathIsDot()
    {
        var tree = Tree(("main.tf", S3), ("vars/prod.tfvars", ""), ("modules/x/main.tf", Empty), ("nested/backend.tf", S3));

        var result = ProjectDiscovery.Affected(tree, null, [Modified("vars/prod.tfvars"), Modified("nested/backend.tf")]);

        Assert.Equal([".", "nested"], Paths(result));
        Assert.Equal(".", tree.OwningProject("main.tf")?.Path);
    }

    [Fact]
    public void Affected_RenameAcrossProjects_MarksBoth()
    {
        var tree = Tree(("a/backend.tf", S3), ("b/backend.tf", S3), ("b/moved.tf", Empty), ("c/backend.tf", S3));

        var result = ProjectDiscovery.Affected(tree, tree, [new ChangedFile("b/moved.tf", ChangeKind.Renamed, "a/moved.tf")]);

        Assert.Equal(["a", "b"], Paths(result));
        Assert.All(result.Projects, p => Assert.Equal(["a/moved.tf renamed to b/moved.tf"], p.Reasons));
    }

    [Fact]
    public void Affected_CloudBlock_IsAProject()
    {
        var tree = Tree(("tfc/main.tf", "terraform {\n  cloud {\n    organization = \"acme\"\n  }\n}\n"));

        Assert.Equal([new Project("tfc", "cloud")], tree.Projects);
        Assert.Equal(["tfc"], Paths(ProjectDiscovery.Affected(tree, null, [Modified("tfc/main.tf")])));
    }

    [Fact]
    public void Affected_ManyChangesInOneProject_ReasonsCapped()
    {
        var files = Enumerable.Range(0, 25).Select(i => ($"p/f{i:00}.tf", Empty)).Append(("p/backend.tf", S3)).ToArray();
        var tree = Tree(files);

        var result = ProjectDiscovery.Affected(tree, null, files.Select(f => Modified(f.Item1)).ToList());

        var reasons = Assert.Single(result.Projects).Reasons;
        Assert.Equal(ProjectDiscovery.MaxReasonsPerProject + 1, reasons.Count);
        Assert.Equal("… and 16 more", reasons[^1]);
    }

    [Fact]
    public void Build_DuplicateBackendInOneDirectory_FirstFileWinsAndProblemReported()
    {
        var tree = Tree(("x/a.tf", S3), ("x/b.tf", "terraform {\n  backend \"gcs\" {}\n}\n"));

        Assert.Equal([new Project("x", "s3")], tree.Projects);
        Assert.Equal(["x/b.tf:2: duplicate backend configuration in x (first in x/a.tf)"], tree.Problems.Select(p => p.Message));
    }

    [Fact]
    public void ModulesUsedBy_TransitiveClosureSorted()
    {
        Assert.Equal(["modules/app", "modules/net"], Monorepo.ModulesUsedBy("envs/prod"));
        Assert.Equal([], Monorepo.ModulesUsedBy("envs/sandbox"));
    }

    [Fact]
    public void Build_ModuleSourceOutsideRepository_Reported()
    {
        var tree = Tree(("p/backend.tf", S3), ("p/main.tf", Uses("../../elsewhere")));

        Assert.Equal(["p/main.tf:1: module 'm0' source \"../../elsewhere\" points outside the repository"], tree.Problems.Select(p => p.Message));
    }

    [Theory]
    [InlineData("/abs/main.tf")]
    [InlineData("./envs/main.tf")]
    [InlineData("envs//main.tf")]
    [InlineData("envs/")]
    [InlineData("")]
    public void Build_NonRepoRelativePath_ThrowsClearError(string path)
    {
        var facts = new Dictionary<string, HclFacts> { [path] = HclScanner.Scan(S3) };

        var error = Assert.Throws<ArgumentException>(() => RepoSnapshot.Build(facts, [path]));
        Assert.Contains("is not a repo-relative file path", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ProjectDiscovery.Affected(Monorepo, null, [Modified(path)]));
    }

    private sealed class AffectedComparer : IEqualityComparer<AffectedProject>
    {
        public static readonly AffectedComparer Instance = new();

        public bool Equals(AffectedProject? x, AffectedProject? y) =>
            x is not null && y is not null && x.Path == y.Path && x.Destroy == y.Destroy && x.Reasons.SequenceEqual(y.Reasons);

        public int GetHashCode(AffectedProject obj) => obj.Path.GetHashCode(StringComparison.Ordinal);
    }
}
